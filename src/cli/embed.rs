//! `attune embed`: texts in, vectors out.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use attune::io::{read_texts, write_embeddings, OutputFormat};

use super::long_text::LongTextArgs;
use super::{load_encoder, CliError};

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model: a local folder, a Hugging Face Hub id, or (later) a fine-tuned model ID.
    #[arg(long, env = "ATTUNE_MODEL", default_value = attune::DEFAULT_MODEL)]
    model: String,
    /// File of texts: .txt (one a line), .csv/.tsv (a text column) or .jsonl.
    #[arg(long, short, conflicts_with = "texts")]
    input: Option<PathBuf>,
    /// Texts to embed, when no --input is given.
    #[arg(required_unless_present = "input")]
    texts: Vec<String>,
    /// The column (CSV) or field (JSONL) holding the text; found by name when left out.
    #[arg(long)]
    text_column: Option<String>,
    /// Output format; by default the --output extension's, else jsonl.
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,
    /// Where to write the vectors (written whole or not at all); stdout when left out.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Texts per forward pass at most; the token budget usually binds first.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Padded tokens per forward pass at most (texts are batched longest first, so short and
    /// long texts each fill a pass without one long text padding many short ones).
    #[arg(long, default_value_t = attune::encoder::DEFAULT_BATCH_TOKENS)]
    batch_tokens: usize,
    /// Compute in f32, bf16 or int8 (see `attune eval --dtype` for what it costs).
    #[arg(long, env = "ATTUNE_DTYPE", default_value = "f32")]
    dtype: attune::Precision,
    #[command(flatten)]
    long: LongTextArgs,
}

pub fn run(a: EmbedArgs) -> Result<(), CliError> {
    if a.batch_size == 0 {
        return Err(CliError::Usage("--batch-size must be at least 1".into()));
    }
    if a.batch_tokens == 0 {
        return Err(CliError::Usage("--batch-tokens must be at least 1".into()));
    }
    let texts = match &a.input {
        Some(p) => read_texts(p, a.text_column.as_deref())?,
        None => a.texts.clone(),
    };
    let format = a
        .format
        .or_else(|| a.output.as_deref().and_then(OutputFormat::from_extension))
        .unwrap_or(OutputFormat::Jsonl);
    if format == OutputFormat::Npy && a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "--format npy is binary: write it to a file with --output".into(),
        ));
    }
    if let Some(dir) = a.output.as_deref().and_then(|o| o.parent()) {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            return Err(attune::Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "the output folder does not exist"),
            )
            .into());
        }
    }
    let mut encoder = load_encoder(&a.model, a.dtype)?;
    encoder.set_batch_tokens(a.batch_tokens);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bar = if refs.len() > a.batch_size && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(refs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} texts  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let start = std::time::Instant::now();
    let long = a.long.long_text();
    let emb = match long.mode {
        attune::encoder::LongTextMode::Truncate => {
            encoder.embed_with_progress(&refs, a.batch_size, &mut |done| bar.set_position(done as u64))?
        }
        attune::encoder::LongTextMode::Chunk => encoder.embed_long(&refs, a.batch_size, &long)?,
    };
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "attune: embedded {} texts ({} dims) in {secs:.2} s ({:.1} texts/s)",
        refs.len(),
        encoder.dim(),
        refs.len() as f64 / secs.max(1e-9)
    );
    match &a.output {
        Some(path) => attune::util::write_atomic(path, |w| write_embeddings(w, format, &refs, &emb))?,
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            write_embeddings(&mut w, format, &refs, &emb)?;
            w.flush()?;
        }
    }
    Ok(())
}
