//! Command-line arguments and dispatch. Each command lives in its own file and calls the library.

mod bases;
mod classify;
mod columns;
mod demo;
mod embed;
mod eval;
mod finetune;
mod long_text;
mod map;
mod models;
mod progress;
mod review;
mod serve;
mod table;
mod worker;

pub(crate) use table::print_metrics_table;

use clap::{Parser, Subcommand};

use attune::{Error, SourceOptions};

/// attune: fine-tune open text-embedding models on your own labelled data.
#[derive(Debug, Parser)]
#[command(name = "attune", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embed texts with a model and write the vectors (JSONL, CSV or .npy).
    Embed(embed::EmbedArgs),
    /// Review a labelled file: counts, preview, problems and their fixes.
    Review(review::ReviewArgs),
    /// Fine-tune a base model on a labelled file; prints baseline and fine-tuned metrics.
    Finetune(Box<finetune::FinetuneArgs>),
    /// Measure a fine-tuned model on a labelled file.
    Eval(eval::EvalArgs),
    /// Classify texts with a fine-tuned model.
    Classify(classify::ClassifyArgs),
    /// Draw baseline and fine-tuned embeddings of a labelled file side by side in 2D.
    Map(map::MapArgs),
    /// List, show or remove models in the registry.
    Models(models::ModelsArgs),
    /// Serve the HTTP API (Embed, Classify, OpenAI embeddings, datasets and fine-tuning jobs).
    Serve(serve::ServeArgs),
    /// Train fine-tuning jobs from the registry's queue (shared by any number of workers and
    /// servers through ATTUNE_DATABASE_URL); serves nothing.
    Worker(worker::WorkerArgs),
    /// The demo: review, fine-tune and classify on the example dataset that ships with attune.
    Demo(demo::DemoArgs),
    /// The base models attune knows (families, sizes, languages) and where each comes from.
    Bases(bases::BasesArgs),
}

impl Cli {
    /// Whether this is `attune serve`, which must outlive its clients.
    pub fn is_server(&self) -> bool {
        matches!(self.command, Command::Serve(_) | Command::Worker(_))
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Embed(a) => embed::run(a),
        Command::Review(a) => review::run(a),
        Command::Finetune(a) => finetune::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Classify(a) => classify::run(a),
        Command::Map(a) => map::run(a),
        Command::Models(a) => models::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Worker(a) => worker::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Bases(a) => bases::run(a),
    }
}

/// An error of the CLI: the library's, or an I/O error writing output.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{}", for_cli(.0))]
    Attune(#[from] Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

/// The library's message, with settings named by their flag.
fn for_cli(e: &Error) -> String {
    match e {
        Error::Setting { setting, reason } => format!("{}: {reason}", setting.flag()),
        Error::MissingColumn { column, .. } => format!("{e} with {}", column.flag()),
        Error::TooFewPoints { .. } => format!("{e} (--method pca)"),
        e => e.to_string(),
    }
}

impl CliError {
    pub fn downcast_io(&self) -> Option<&std::io::Error> {
        match self {
            CliError::Io(e) => Some(e),
            CliError::Attune(Error::Io { source, .. }) => Some(source),
            _ => None,
        }
    }
}

/// Model sources from the environment, with download news printed on stderr.
pub(crate) fn source_options() -> SourceOptions {
    SourceOptions::from_env().with_events(|msg| eprintln!("attune: {msg}"))
}

/// The registry at `ATTUNE_HOME` (or the platform data folder).
pub(crate) fn open_registry() -> Result<attune::registry::Registry, CliError> {
    Ok(attune::registry::Registry::open_default()?)
}

/// Finds a model by registry ID or nickname, folder or Hub id.
pub(crate) fn locate(spec: &str) -> Result<attune::model::Located, CliError> {
    let reg = open_registry()?;
    Ok(attune::model::locate(spec, &reg, &source_options())?)
}

/// Resolves and loads the encoder `spec` names (a fine-tuned model's encoder for a registry
/// model), telling on stderr where it came from.
pub(crate) fn load_encoder(spec: &str, precision: attune::Precision) -> Result<attune::Encoder, CliError> {
    let dir = locate(spec)?.encoder_dir();
    if dir != std::path::Path::new(spec) {
        eprintln!("attune: model {spec} from {}", dir.display());
    }
    Ok(attune::Encoder::load(
        &dir,
        &attune::EncoderOptions::default().with_precision(precision).frozen(),
    )?)
}
