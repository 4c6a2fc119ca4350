//! `attune classify`: labels for texts from a fine-tuned model.

use std::path::PathBuf;

use clap::Args;

use attune::io::read_texts;
use attune::model::{FinetunedModel, Located};

use super::long_text::LongTextArgs;
use super::{locate, CliError};

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// The fine-tuned model: ID, nickname or folder.
    #[arg(long)]
    model: String,
    /// File of texts (.txt, .csv, .jsonl); else the TEXT arguments.
    #[arg(long, short, conflicts_with = "texts")]
    input: Option<PathBuf>,
    #[arg(required_unless_present = "input")]
    texts: Vec<String>,
    #[arg(long)]
    text_column: Option<String>,
    #[command(flatten)]
    long: LongTextArgs,
    /// Answer no label when the top confidence is under P (0 to 1).
    #[arg(long, value_name = "P")]
    abstain_below: Option<f32>,
    /// Compute in f32, bf16 or int8 (see `attune eval --dtype` for what it costs).
    #[arg(long, env = "ATTUNE_DTYPE", default_value = "f32")]
    dtype: attune::Precision,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ClassifyArgs) -> Result<(), CliError> {
    if let Some(p) = a.abstain_below {
        if !(0.0..=1.0).contains(&p) {
            return Err(CliError::Usage(
                "--abstain-below takes a probability between 0 and 1".into(),
            ));
        }
    }
    let texts = match &a.input {
        Some(p) => read_texts(p, a.text_column.as_deref())?,
        None => a.texts.clone(),
    };
    let dir = match locate(&a.model)? {
        Located::Finetuned { dir, .. } => dir,
        Located::Encoder(r) => {
            return Err(CliError::Usage(format!(
                "{} is a base model without a classification head; fine-tune it first (attune finetune --data FILE --base {})",
                r.spec, r.spec
            )))
        }
    };
    let model = FinetunedModel::load_with(&dir, a.dtype)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    if a.abstain_below.is_some() && model.head.is_multi_label() {
        return Err(CliError::Usage(
            "--abstain-below is for single-label models: a multi-label model answers every label over its own threshold, possibly none".into(),
        ));
    }
    let out = model.classify_long(&refs, a.abstain_below, 32, &a.long.or(model.long_text))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out).map_err(std::io::Error::other)?);
        return Ok(());
    }
    let width = model
        .head
        .labels()
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(5)
        .max(9);
    for c in &out {
        // A multi-label answer is its set (possibly none); a single-label one its top label.
        let label = match &c.labels {
            Some(set) if set.is_empty() => attune::data::NO_LABEL.to_string(),
            Some(set) => set.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(" + "),
            None => c.prediction.clone().unwrap_or_else(|| "(abstain)".into()),
        };
        let others: Vec<String> = c
            .confidences
            .iter()
            .map(|l| format!("{} {:.3}", l.label, l.confidence))
            .collect();
        println!("{label:<width$} {:.3}  {}", c.confidence, c.input);
        println!("{:width$}        [{}]", "", others.join(", "));
    }
    Ok(())
}
