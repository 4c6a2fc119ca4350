//! `attune eval`: a fine-tuned model's metrics on any labelled file.

use std::path::PathBuf;

use clap::Args;

use attune::data::Dataset;
use attune::model::{FinetunedModel, Located};

use super::columns::Columns;
use super::long_text::LongTextArgs;
use super::{locate, print_metrics_table, CliError};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The fine-tuned model: ID, nickname or folder.
    #[arg(long)]
    model: String,
    /// Labelled file: .csv, .tsv or .jsonl.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    columns: Columns,
    #[command(flatten)]
    long: LongTextArgs,
    /// Print one JSON object with the metrics at its top level.
    #[arg(long)]
    json: bool,
}

pub fn run(a: EvalArgs) -> Result<(), CliError> {
    let dir = match locate(&a.model)? {
        Located::Finetuned { dir, .. } => dir,
        Located::Encoder(r) => {
            return Err(CliError::Usage(format!(
                "{} is a base model without a classification head",
                r.spec
            )))
        }
    };
    let model = FinetunedModel::load(&dir)?;
    // A test file's rows may each carry one label: the separator need not occur.
    let opts = attune::data::LoadOptions {
        separator_may_be_absent: true,
        ..a.columns.load_options()
    };
    let ds = Dataset::load(&a.data, &opts)?;
    let m = model.evaluate(&ds, 64, &a.long.or(model.long_text))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m).map_err(std::io::Error::other)?);
    } else {
        println!("{} on {} ({} rows):\n", a.model, a.data.display(), m.rows);
        print_metrics_table(&m, None);
    }
    Ok(())
}
