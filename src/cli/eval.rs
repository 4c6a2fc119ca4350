//! `attune eval`: a fine-tuned model's metrics on any labelled file.

use std::path::PathBuf;

use clap::Args;

use attune::data::Dataset;
use attune::model::{FinetunedModel, Located, PrecisionCost};
use attune::Precision;

use super::columns::Columns;
use super::long_text::LongTextArgs;
use super::table::print_metrics_columns;
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
    /// Compute in f32, bf16 or int8; a lower precision is measured beside f32 on the same rows
    /// (metrics of both, answers that agree, cosine of the embeddings).
    #[arg(long, env = "ATTUNE_DTYPE", default_value = "f32")]
    dtype: Precision,
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
    let mut model = FinetunedModel::load(&dir)?;
    // A test file's rows may each carry one label: the separator need not occur.
    let opts = attune::data::LoadOptions {
        separator_may_be_absent: true,
        ..a.columns.load_options()
    };
    let ds = Dataset::load(&a.data, &opts)?;
    let long = a.long.or(model.long_text);
    if a.dtype != Precision::F32 {
        let cost = model.evaluate_precision(&ds, 64, &long, a.dtype)?;
        return print_cost(&a, &cost);
    }
    let m = model.evaluate(&ds, 64, &long)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m).map_err(std::io::Error::other)?);
    } else {
        println!("{} on {} ({} rows):\n", a.model, a.data.display(), m.rows);
        print_metrics_table(&m, None);
    }
    Ok(())
}

/// A lower precision's metrics beside f32's, and how far its answers and embeddings move.
fn print_cost(a: &EvalArgs, c: &PrecisionCost) -> Result<(), CliError> {
    if a.json {
        println!("{}", serde_json::to_string_pretty(c).map_err(std::io::Error::other)?);
        return Ok(());
    }
    println!(
        "{} on {} ({} rows), in {} beside f32:\n",
        a.model,
        a.data.display(),
        c.metrics.rows,
        c.dtype
    );
    print_metrics_columns(&c.f32, Some(&c.metrics), ("f32", c.dtype.as_str()));
    println!(
        "\n{}: {:.2}% of answers as in f32; embeddings' cosine to f32 {:.5} on average, {:.5} at least.",
        c.dtype,
        100.0 * c.agreement,
        c.mean_cosine,
        c.min_cosine
    );
    Ok(())
}
