//! `attune eval`: a fine-tuned model's metrics on any labelled file.

use std::path::PathBuf;

use clap::Args;

use attune::data::Dataset;
use attune::eval::Metrics;
use attune::model::{FinetunedModel, Located};

use super::columns::Columns;
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
    let ds = Dataset::load(&a.data, &a.columns.load_options())?;
    let labels = &model.head.labels;
    let unknown: Vec<String> = ds.label_counts().into_keys().filter(|l| !labels.contains(l)).collect();
    if !unknown.is_empty() {
        return Err(attune::Error::Dataset {
            path: a.data.clone(),
            reason: format!(
                "labels the model does not know: {} (it knows {})",
                unknown.join(", "),
                labels.join(", ")
            ),
        }
        .into());
    }
    let rows: Vec<_> = ds.examples.iter().filter(|e| !e.text.is_empty()).collect();
    let texts: Vec<&str> = rows.iter().map(|e| e.text.as_str()).collect();
    let truth: Vec<usize> = rows
        .iter()
        .map(|e| labels.iter().position(|l| *l == e.label).unwrap_or(0))
        .collect();
    let emb = model.encoder.embed(&texts, 64)?;
    let probs = model.head.predict_proba(&emb)?;
    let m = Metrics::compute(labels, &truth, &probs, &emb)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m).map_err(std::io::Error::other)?);
    } else {
        println!("{} on {} ({} rows):\n", a.model, a.data.display(), m.rows);
        print_metrics_table(&m, None);
    }
    Ok(())
}
