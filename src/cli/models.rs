//! `attune models list|show|rm|cancel`: the registry.

use clap::{Args, Subcommand};

use super::{open_registry, CliError};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// List models (ready ones; --all adds runs in progress or failed).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one model's record and manifest.
    Show { model: String },
    /// Remove a model and its folder (a run in training: cancel it first).
    Rm { model: String },
    /// Stop a run in training, whichever process trains it: it stops at its next step with a
    /// checkpoint and becomes CANCELLED (`attune finetune --resume ID` continues it).
    Cancel { model: String },
}

pub fn run(a: ModelsArgs) -> Result<(), CliError> {
    let reg = open_registry()?;
    match a.command {
        ModelsCommand::List { all, json } => {
            let models = reg.list(all)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&models).map_err(std::io::Error::other)?
                );
                return Ok(());
            }
            if models.is_empty() {
                println!(
                    "No models yet in {}. Train one: attune finetune --data FILE",
                    reg.home().display()
                );
                return Ok(());
            }
            println!(
                "{:<40} {:<16} {:<9} {:>8}  {:<20} base",
                "ID", "nickname", "status", "accuracy", "created"
            );
            for m in models {
                // The test accuracy of the model the run kept (the base model when it won).
                let acc = m
                    .metrics
                    .as_ref()
                    .map(|r| format!("{:.4}", r.kept().accuracy))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<40} {:<16} {:<9} {:>8}  {:<20} {}",
                    m.id,
                    m.name.as_deref().unwrap_or("-"),
                    format!("{:?}", m.status).to_uppercase(),
                    acc,
                    m.created.get(..19).unwrap_or(&m.created),
                    m.base_model
                );
            }
        }
        ModelsCommand::Show { model } => {
            let rec = match reg.find(&model) {
                Ok(Some(r)) => r,
                Ok(None) => reg
                    .get_any(&model)?
                    .ok_or_else(|| attune::Error::NotInRegistry { id: model.clone() })?,
                Err(e) => match reg.get_any(&model)? {
                    Some(r) => r,
                    None => return Err(e.into()),
                },
            };
            let manifest: serde_json::Value = std::fs::read_to_string(rec.path.join("manifest.json"))
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(serde_json::Value::Null);
            let v = serde_json::json!({"record": rec, "manifest": manifest});
            println!("{}", serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?);
        }
        ModelsCommand::Rm { model } => {
            let id = match reg.find(&model) {
                Ok(Some(r)) => r.id,
                _ => model.clone(),
            };
            let r = reg.remove(&id)?;
            println!("removed {} ({})", r.id, r.name.as_deref().unwrap_or("no nickname"));
        }
        ModelsCommand::Cancel { model } => {
            if reg.request_cancel(&model)? {
                println!("cancelled {model}");
            } else if reg
                .get_any(&model)?
                .is_some_and(|r| r.status == attune::registry::Status::Finetuning)
            {
                println!("cancelling {model}: it stops at its next step and becomes CANCELLED");
            } else {
                return Err(attune::Error::ModelState {
                    id: model,
                    reason: "is not queued or training; nothing to cancel".into(),
                }
                .into());
            }
        }
    }
    Ok(())
}
