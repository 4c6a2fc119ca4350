//! `attune review`: what is in a labelled file and what to fix before training.

use std::path::PathBuf;

use clap::Args;

use attune::data::review::{ReviewOptions, Severity};
use attune::data::review_with_model;
use attune::data::Dataset;

use super::columns::Columns;
use super::{load_encoder, CliError};

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Labelled file: .csv (comma or tab), .tsv or .jsonl.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    columns: Columns,
    /// Fewer rows than this is reported (the hosted reference asks for 250).
    #[arg(long, default_value_t = 250)]
    min_rows: usize,
    /// The base model used for the token-length and embedding checks.
    #[arg(long, env = "ATTUNE_BASE", default_value = attune::DEFAULT_MODEL)]
    base: String,
    /// Skip the checks that need the model (truncation, mislabels, near-duplicates).
    #[arg(long)]
    no_model: bool,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ReviewArgs) -> Result<(), CliError> {
    let ds = Dataset::load(&a.data, &a.columns.load_options())?;
    let opts = ReviewOptions {
        min_rows: a.min_rows,
        ..Default::default()
    };
    let base = a.base.clone();
    let mut load = || {
        load_encoder(&base, attune::Precision::F32).map_err(|e| match e {
            CliError::Attune(e) => e,
            other => attune::Error::Internal(other.to_string()),
        })
    };
    let r = review_with_model(&ds, &opts, (!a.no_model).then_some(&mut load as &mut dyn FnMut() -> _))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).map_err(std::io::Error::other)?);
        return Ok(());
    }
    println!(
        "{}  ({} rows, text column {:?}, label column {:?})",
        r.path, r.rows, r.text_column, r.label_column
    );
    if r.unreadable_rows > 0 {
        println!("{} rows could not be read", r.unreadable_rows);
    }
    println!("\nLabels ({}):", r.labels.len());
    let max = r.labels.iter().map(|l| l.count).max().unwrap_or(1).max(1);
    let width = r
        .labels
        .iter()
        .map(|l| l.label.chars().count())
        .max()
        .unwrap_or(5)
        .min(40);
    // A file of thousands of labels shows the first 50 (in the order the review lists them).
    const SHOWN: usize = 50;
    for l in r.labels.iter().take(SHOWN) {
        let bar = "█".repeat((l.count * 40).div_ceil(max));
        let note = if l.trainable { "" } else { "  (dropped: too few rows)" };
        let name = attune::util::excerpt(&l.label, 40);
        println!("  {name:<width$} {:>6}  {bar}{note}", l.count);
    }
    if r.labels.len() > SHOWN {
        println!(
            "  ... and {} more labels (--json lists them all)",
            r.labels.len() - SHOWN
        );
    }
    if let Some(m) = &r.multi_label {
        println!(
            "\nMulti-label: {:.2} labels per row; {} rows with two or more, {} with none.",
            m.cardinality, m.rows_with_several, m.rows_with_none
        );
        if !m.top_pairs.is_empty() {
            let pairs: Vec<String> = m
                .top_pairs
                .iter()
                .map(|p| format!("{} + {} ({})", p.a, p.b, p.rows))
                .collect();
            println!(
                "Labels most often together: {}",
                attune::util::excerpt_list(&pairs, 10, 80)
            );
        }
    }
    println!("\nPreview:");
    for e in &r.preview {
        let t: String = e.text.chars().take(80).collect();
        println!("  line {:>5}  {:<width$}  {t}", e.line, e.label);
    }
    if r.problems.is_empty() {
        println!("\nNo problems found. {} rows will be used for training.", r.usable_rows);
    } else {
        println!("\nProblems ({}):", r.problems.len());
        for p in &r.problems {
            let tag = match p.severity {
                Severity::Blocking => "BLOCKING",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            println!("  [{tag}] {}", p.message);
            let lines: Vec<String> = p
                .lines
                .iter()
                .take(10)
                .map(|g| {
                    let mut shown: Vec<String> = g.iter().take(10).map(|l| l.to_string()).collect();
                    if g.len() > 10 {
                        shown.push(format!("{} more", g.len() - 10));
                    }
                    shown.join(" & ")
                })
                .collect();
            if !lines.is_empty() {
                let more = if p.lines.len() > 10 {
                    format!(" and {} more", p.lines.len() - 10)
                } else {
                    String::new()
                };
                println!("      lines: {}{more}", lines.join(", "));
            }
            println!("      fix: {}", p.fix);
        }
        println!("\n{} of {} rows will be used for training.", r.usable_rows, r.rows);
    }
    if !r.embedding_checks && !a.no_model {
        println!("(embedding checks did not run)");
    }
    if r.blocking {
        return Err(CliError::Usage(format!(
            "{}: blocking problems stop training; fix them first",
            a.data.display()
        )));
    }
    Ok(())
}
