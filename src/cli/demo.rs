//! `attune demo`: the README's main job. Until fine-tuning lands it embeds a few sentences with
//! the default model and prints how similar each pair is.

use clap::Args;

use super::{load_encoder, CliError};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Model to use.
    #[arg(long, env = "ATTUNE_MODEL", default_value = attune::DEFAULT_MODEL)]
    model: String,
}

const SENTENCES: &[&str] = &[
    "What is the cheapest flight from Boston to Denver?",
    "Show me fares from Boston to Denver",
    "Is there a shuttle from the Denver airport to downtown?",
    "Which airlines fly from Dallas to Atlanta?",
    "My card payment was declined at the shop",
];

pub fn run(a: DemoArgs) -> Result<(), CliError> {
    let encoder = load_encoder(&a.model)?;
    let emb = encoder.embed(SENTENCES, 32)?;
    println!("Cosine similarity of each pair ({}):", a.model);
    for (i, s) in SENTENCES.iter().enumerate() {
        println!("  [{i}] {s}");
    }
    print!("\n     ");
    for j in 0..SENTENCES.len() {
        print!("  [{j}] ");
    }
    println!();
    for (i, ei) in emb.iter().enumerate() {
        print!("  [{i}]");
        for ej in &emb {
            print!(" {:5.2}", attune::encoder::cosine(ei, ej));
        }
        println!();
    }
    Ok(())
}
