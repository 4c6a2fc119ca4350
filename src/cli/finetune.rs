//! `attune finetune`: a labelled file in, a registered model ID out, with baseline and fine-tuned
//! metrics side by side.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use attune::finetune::{finetune, resume, FinetuneOptions, Outcome, Progress};
use attune::train::{Control, Event, LossKind, TrainConfig};

use super::columns::Columns;
use super::{open_registry, print_metrics_table, source_options, CliError};

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Labelled training file: .csv (comma or tab), .tsv or .jsonl.
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// A separate validation file; by default a stratified 20 % of --data.
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Resume the interrupted run with this ID from its last checkpoint.
    #[arg(long, conflicts_with = "data")]
    resume: Option<String>,
    /// A nickname for the model.
    #[arg(long)]
    name: Option<String>,
    /// The base model: a Hub id, a folder, or a registry model.
    #[arg(long, env = "ATTUNE_BASE", default_value = attune::DEFAULT_MODEL)]
    base: String,
    #[command(flatten)]
    columns: Columns,
    /// The training objective.
    #[arg(long, value_enum, default_value_t = TrainConfig::default().loss)]
    loss: LossKind,
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    learning_rate: f64,
    /// Sentences per step.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    /// Stop after this many steps.
    #[arg(long)]
    max_steps: Option<usize>,
    #[arg(long, default_value_t = TrainConfig::default().warmup_ratio)]
    warmup_ratio: f64,
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f64,
    /// Temperature of the supervised contrastive loss.
    #[arg(long, default_value_t = TrainConfig::default().temperature)]
    temperature: f64,
    /// SetFit pair iterations per epoch (with --loss setfit).
    #[arg(long, default_value_t = TrainConfig::default().setfit_iterations)]
    setfit_iterations: usize,
    /// Epochs without a better validation score before stopping early.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    patience: usize,
    /// Draw labels in proportion to their size instead of evenly.
    #[arg(long)]
    no_balance: bool,
    /// Share of each label held out for validation.
    #[arg(long, default_value_t = 0.2)]
    valid_fraction: f64,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Print one JSON object and no progress.
    #[arg(long)]
    json: bool,
}

impl FinetuneArgs {
    fn options(&self) -> FinetuneOptions {
        FinetuneOptions {
            data: self.data.clone().unwrap_or_default(),
            valid: self.valid.clone(),
            text_column: self.columns.text_column.clone(),
            label_column: self.columns.label_column.clone(),
            name: self.name.clone(),
            base: self.base.clone(),
            valid_fraction: self.valid_fraction,
            train: TrainConfig {
                loss: self.loss,
                epochs: self.epochs,
                learning_rate: self.learning_rate,
                batch_size: self.batch_size,
                max_steps: self.max_steps,
                warmup_ratio: self.warmup_ratio,
                weight_decay: self.weight_decay,
                temperature: self.temperature,
                setfit_iterations: self.setfit_iterations,
                balanced: !self.no_balance,
                patience: self.patience,
                seed: self.seed,
            },
            ..FinetuneOptions::default()
        }
    }
}

/// Prints progress on stderr: stage lines and a bar (when stderr is a terminal).
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Reporter {
    pub(crate) fn new(quiet: bool) -> Self {
        Reporter { bar: None, quiet }
    }

    pub(crate) fn report(&mut self, p: Progress) {
        if self.quiet {
            return;
        }
        match p {
            Progress::Stage(s) => {
                if let Some(b) = &self.bar {
                    b.suspend(|| eprintln!("attune: {s}"));
                } else {
                    eprintln!("attune: {s}");
                }
            }
            Progress::Started { model_id } => {
                eprintln!("attune: training {model_id} (if interrupted: attune finetune --resume {model_id})")
            }
            Progress::Train(ev) => self.train_event(ev),
        }
    }

    fn train_event(&mut self, ev: &Event) {
        match ev {
            Event::Step {
                step,
                total,
                loss,
                steps_per_s,
                eta_s,
                epoch,
                ..
            } => {
                if std::io::stderr().is_terminal() {
                    let bar = self.bar.get_or_insert_with(|| {
                        let b = ProgressBar::new(*total as u64);
                        b.set_style(
                            ProgressStyle::with_template("{bar:30} step {pos}/{len}  {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        b
                    });
                    bar.set_position(*step as u64);
                    bar.set_message(format!(
                        "epoch {epoch}  loss {loss:.4}  {steps_per_s:.2} steps/s  eta {}",
                        fmt_secs(*eta_s)
                    ));
                } else if step % 10 == 0 || step == total {
                    eprintln!(
                        "attune: step {step}/{total}  epoch {epoch}  loss {loss:.4}  {steps_per_s:.2} steps/s  eta {}",
                        fmt_secs(*eta_s)
                    );
                }
            }
            Event::Epoch {
                epoch,
                epochs,
                score,
                improved,
            } => {
                let msg = format!(
                    "attune: epoch {epoch}/{epochs}: validation macro-F1 {:.4}{}",
                    score,
                    if *improved { " (best so far)" } else { "" }
                );
                match &self.bar {
                    Some(b) => b.suspend(|| eprintln!("{msg}")),
                    None => eprintln!("{msg}"),
                }
            }
            Event::EarlyStop { epoch, best_epoch } => {
                eprintln!("attune: stopping early after epoch {epoch}; keeping epoch {best_epoch}")
            }
            Event::Resumed { epoch, step } => eprintln!("attune: resumed after epoch {epoch} (step {step})"),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Ctrl-C or SIGTERM asks the run to stop: it saves a checkpoint after the current step.
pub(crate) fn stop_on_signal() -> Control {
    let control = Control::default();
    let c = control.clone();
    // Failing to install the handler only loses the graceful stop; a kill still leaves the
    // registry valid and the last epoch checkpoint.
    let _ = ctrlc::set_handler(move || {
        eprintln!("\nattune: stopping after this step (a checkpoint is saved; resume with --resume ID)");
        c.request_stop();
    });
    control
}

pub fn run(a: FinetuneArgs) -> Result<(), CliError> {
    let mut reg = open_registry()?;
    let sources = source_options();
    let mut rep = Reporter::new(a.json);
    let control = stop_on_signal();
    let outcome = match &a.resume {
        Some(id) => resume(id, control, &mut reg, &sources, &mut |p| rep.report(p)),
        None => {
            let mut o = a.options();
            o.control = control;
            finetune(&o, &mut reg, &sources, &mut |p| rep.report(p))
        }
    };
    rep.finish();
    let outcome = outcome?;
    print_outcome(&outcome, a.json)
}

pub(crate) fn print_outcome(o: &Outcome, json: bool) -> Result<(), CliError> {
    if json {
        let v = serde_json::json!({
            "model_id": o.model_id,
            "path": o.path,
            "labels": o.labels,
            "train_rows": o.train_rows,
            "valid_rows": o.valid_rows,
            "seconds": o.seconds,
            "training": o.training,
            "metrics": o.metrics,
            "validation_curve": o.validation_curve,
        });
        println!("{}", serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?);
        return Ok(());
    }
    println!(
        "Fine-tuned in {:.0} s ({} steps, {} epochs, best epoch {}) on {} rows; validation: {} rows.\n",
        o.seconds, o.training.steps, o.training.epochs_run, o.training.best_epoch, o.train_rows, o.valid_rows
    );
    print_metrics_table(&o.metrics.baseline, Some(&o.metrics.finetuned));
    println!("\nModel ID: {}\nFolder:   {}", o.model_id, o.path.display());
    Ok(())
}
