//! Command-line arguments and dispatch. Each command lives in its own file and calls the library.

mod demo;
mod embed;

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
    /// Run the demo: embed a few sentences and show how similar they are.
    Demo(demo::DemoArgs),
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Embed(a) => embed::run(a),
        Command::Demo(a) => demo::run(a),
    }
}

/// An error of the CLI: the library's, or an I/O error writing output.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Attune(#[from] Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
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

/// Resolves and loads `spec`, telling on stderr where it came from.
pub(crate) fn load_encoder(spec: &str) -> Result<attune::Encoder, CliError> {
    let resolved = attune::resolve_model(spec, &source_options())?;
    if resolved.dir != std::path::Path::new(spec) {
        eprintln!("attune: model {spec} from {}", resolved.dir.display());
    }
    Ok(attune::Encoder::load(
        &resolved.dir,
        &attune::EncoderOptions::default(),
    )?)
}
