//! `attune map`: baseline and fine-tuned embeddings of a labelled file, side by side in 2D.

use std::path::PathBuf;

use clap::Args;

use attune::map::{map_models, write, MapJob, MapOptions, Method};

use super::columns::Columns;
use super::long_text::LongTextArgs;
use super::{open_registry, source_options, CliError};

#[derive(Debug, Args)]
pub struct MapArgs {
    /// The fine-tuned model: ID, nickname or folder.
    #[arg(long)]
    model: String,
    /// Labelled file (.csv, .tsv, .jsonl) whose texts are drawn; by default the model's
    /// validation rows, held out from its training.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The baseline model; by default the fine-tuned model's base.
    #[arg(long)]
    baseline: Option<String>,
    /// How to compress the embeddings to 2D.
    #[arg(long, value_enum, default_value_t = Method::Pca)]
    method: Method,
    /// Write the text of the first N points beside them.
    #[arg(long, default_value_t = 0)]
    label_points: usize,
    /// Past this many rows, draw a stratified sample.
    #[arg(long, default_value_t = 2000)]
    max_points: usize,
    #[command(flatten)]
    columns: Columns,
    #[command(flatten)]
    long: LongTextArgs,
    /// Output file; its extension picks the format: .png, .svg, .html or .json.
    #[arg(long, short)]
    output: PathBuf,
}

pub fn run(a: MapArgs) -> Result<(), CliError> {
    attune::map::Format::from_path(&a.output)?;
    if a.max_points < 2 {
        return Err(CliError::Usage("--max-points must be at least 2".into()));
    }
    let reg = open_registry()?;
    let job = MapJob {
        model: a.model.clone(),
        baseline: a.baseline.clone(),
        data: a.data.clone(),
        load: attune::data::LoadOptions {
            separator_may_be_absent: true,
            ..a.columns.load_options()
        },
        max_points: a.max_points,
        options: MapOptions {
            method: a.method,
            label_points: a.label_points,
            ..MapOptions::default()
        },
        long_text: a.long.long_text.map(|_| a.long.long_text()),
    };
    let map = map_models(&job, &reg, &source_options())?;
    if map.drawn_rows < map.total_rows {
        eprintln!(
            "attune: {} rows; drew a stratified sample of {} (every label kept; --max-points changes it)",
            map.total_rows, map.drawn_rows
        );
    }
    write(&map, &a.output, &job.options)?;
    println!(
        "{}: baseline silhouette {:.3} -> fine-tuned {:.3} (2D, {} points; full-dimension cosine {:.3} -> {:.3})",
        a.output.display(),
        map.baseline.silhouette,
        map.finetuned.silhouette,
        map.drawn_rows,
        map.baseline.silhouette_full,
        map.finetuned.silhouette_full
    );
    Ok(())
}
