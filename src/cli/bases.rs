//! `attune bases`: the base models attune knows, with size, dimension, languages, token limit
//! and where attune can fetch each on this machine.

use clap::Args;

use attune::source::catalog;
use attune::SourceOptions;

use super::CliError;

#[derive(Debug, Args)]
pub struct BasesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: BasesArgs) -> Result<(), CliError> {
    let bases = catalog::bases(&SourceOptions::from_env());
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&bases).map_err(std::io::Error::other)?
        );
        return Ok(());
    }
    println!(
        "{:<22} {:<12} {:>7} {:>5} {:>6}  {:<20} {:<60} where from",
        "--base", "family", "params", "dim", "tokens", "languages", "Hub id"
    );
    for s in &bases {
        let b = &s.base;
        println!(
            "{:<22} {:<12} {:>6.0}M {:>5} {:>6}  {:<20} {:<60} {}",
            b.name, b.family, b.params_m, b.dim, b.max_tokens, b.languages, b.hub_id, s.fetch
        );
    }
    println!(
        "\n--base takes the short name, the Hub id, or a model folder (any BERT, MPNet, XLM-RoBERTa \
         or ModernBERT sentence-transformers model). Without the Hub, copy a model folder here \
         and pass its path."
    );
    Ok(())
}
