//! `attune worker`: trains fine-tuning jobs from the registry's queue and serves nothing.

use clap::Args;

use super::{source_options, CliError};

#[derive(Debug, Args)]
pub struct WorkerArgs {}

pub fn run(_a: WorkerArgs) -> Result<(), CliError> {
    let home = attune::registry::default_home();
    attune::server::work(home, source_options(), |db| {
        eprintln!("attune: worker {} taking jobs from {db}", attune::registry::owner_id());
    })?;
    Ok(())
}
