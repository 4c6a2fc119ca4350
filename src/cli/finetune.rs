//! `attune finetune`: a labelled file in, a registered model ID out, with baseline and fine-tuned
//! metrics side by side.

use std::path::PathBuf;

use clap::Args;

use attune::finetune::{finetune, resume, Candidate, FinetuneOptions, Outcome};
use attune::train::{Control, LossKind, TrainSettings};

use super::columns::Columns;
use super::long_text::LongTextArgs;
use super::progress::Reporter;
use super::{open_registry, print_metrics_table, source_options, CliError};

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// Labelled training file: .csv (comma or tab), .tsv or .jsonl.
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// A separate file of selection rows (they choose the epoch, the head's temperature and
    /// base-or-fine-tuned); by default a stratified part of --data (--valid-fraction).
    #[arg(long)]
    valid: Option<PathBuf>,
    /// A separate file of test rows, from which every reported figure comes; by default a
    /// stratified part of --data (--test-fraction) that no decision sees.
    #[arg(long)]
    test: Option<PathBuf>,
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
    #[command(flatten)]
    long: LongTextArgs,
    /// The training objective [default: ce].
    #[arg(long, value_enum)]
    loss: Option<LossKind>,
    /// [default: 4 with ce; with a contrastive loss enough for 120 steps, 6 to 30]
    #[arg(long)]
    epochs: Option<usize>,
    /// [default: 1e-4]
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Sentences per step [default: 32].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Stop after this many steps.
    #[arg(long)]
    max_steps: Option<usize>,
    /// [default: 0.1]
    #[arg(long)]
    warmup_ratio: Option<f64>,
    /// [default: 0.01]
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Temperature of the supervised contrastive loss [default: 0.1].
    #[arg(long)]
    temperature: Option<f64>,
    /// SetFit pair iterations per epoch (with --loss setfit) [default: 5].
    #[arg(long)]
    setfit_iterations: Option<usize>,
    /// Epochs without a better selection score before stopping early [default: 2].
    #[arg(long)]
    patience: Option<usize>,
    /// Draw labels in proportion to their size instead of evenly (contrastive losses).
    #[arg(long)]
    no_balance: bool,
    /// Share of each label held out as selection rows (at most 1,000 rows in all).
    #[arg(long, default_value_t = FinetuneOptions::default().valid_fraction)]
    valid_fraction: f64,
    /// Share of each label held out as test rows (at most 1,000 rows in all).
    #[arg(long, default_value_t = FinetuneOptions::default().test_fraction)]
    test_fraction: f64,
    /// [default: 42]
    #[arg(long)]
    seed: Option<u64>,
    /// The precision training multiplies in: f32, or bf16 (f32 weights, gradients and optimizer
    /// state; the products' operands in bf16) [default: f32].
    #[arg(long)]
    dtype: Option<attune::Precision>,
    /// Print one JSON object on stdout (progress lines still go to stderr).
    #[arg(long)]
    json: bool,
}

impl FinetuneArgs {
    fn options(&self) -> FinetuneOptions {
        FinetuneOptions {
            data: self.data.clone().unwrap_or_default(),
            valid: self.valid.clone(),
            test: self.test.clone(),
            text_column: self.columns.text_column.clone(),
            label_column: self.columns.label_column.clone(),
            label_separator: self.columns.label_separator.clone(),
            long_text: self.long.long_text(),
            name: self.name.clone(),
            base: self.base.clone(),
            valid_fraction: self.valid_fraction,
            test_fraction: self.test_fraction,
            train: TrainSettings {
                loss: self.loss,
                epochs: self.epochs,
                learning_rate: self.learning_rate,
                batch_size: self.batch_size,
                max_steps: self.max_steps,
                warmup_ratio: self.warmup_ratio,
                weight_decay: self.weight_decay,
                temperature: self.temperature,
                setfit_iterations: self.setfit_iterations,
                balanced: self.no_balance.then_some(false),
                patience: self.patience,
                seed: self.seed,
                dtype: self.dtype,
            },
            ..FinetuneOptions::default()
        }
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
    let mut rep = Reporter::new();
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
            "selected": o.selected,
            "reason": o.reason,
            "labels": o.labels,
            "rows": o.rows,
            "seconds": o.seconds,
            "recipe": o.recipe,
            "training": o.training,
            "metrics": o.metrics,
            "selection": {"base": o.selection.base, "finetuned": o.selection.finetuned},
            "validation_curve": o.validation_curve,
        });
        println!("{}", serde_json::to_string_pretty(&v).map_err(std::io::Error::other)?);
        return Ok(());
    }
    let r = &o.recipe;
    println!(
        "Trained in {:.0} s: {} loss{}, learning rate {:e}, batch {}, {} steps, {} epochs (best epoch {}), on {} rows.\n",
        o.seconds,
        r.loss.as_str(),
        if r.dtype == attune::Precision::F32 { String::new() } else { format!(" in {}", r.dtype) },
        r.learning_rate,
        r.batch_size,
        o.training.steps,
        o.training.epochs_run,
        o.training.best_epoch,
        o.rows.train
    );
    println!(
        "Selection: {} rows ({}).\nTest:      {} rows ({}).\n",
        o.rows.selection, o.rows.selection_source, o.rows.test, o.rows.test_source
    );
    println!("On the test rows:\n");
    print_metrics_table(&o.metrics.baseline, Some(&o.metrics.finetuned));
    let which = match o.selected {
        Candidate::Finetuned => "the fine-tuned model",
        Candidate::Base => "the base model (not fine-tuned)",
    };
    println!("\nSelected: {which}. {}", o.reason);
    println!("\nModel ID: {}\nFolder:   {}", o.model_id, o.path.display());
    Ok(())
}
