//! The whole fine-tuning job, from a labelled file to a registry model ID: load and review the
//! data, split it, measure the frozen base model (baseline), train, measure again, and store the
//! model only once it is complete. A run can be resumed from its last epoch checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::review::{review, usable, ModelView, ReviewOptions, Severity};
use crate::data::{stratified_split, Dataset, Example, LoadOptions};
use crate::encoder::{Encoder, EncoderOptions};
use crate::error::{Error, Result};
use crate::eval::Metrics;
use crate::head::{HeadConfig, LogisticHead};
use crate::registry::Registry;
use crate::source::{resolve_model, SourceOptions};
use crate::train::{train, Event, RunSetup, TrainConfig, TrainData, TrainReport};

/// Everything a fine-tuning run needs; saved in the manifest so `--resume` can rebuild it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneOptions {
    pub data: PathBuf,
    /// A separate validation file; else a stratified split of `data`.
    pub valid: Option<PathBuf>,
    pub text_column: Option<String>,
    pub label_column: Option<String>,
    pub name: Option<String>,
    pub base: String,
    pub valid_fraction: f64,
    /// Labels with fewer usable rows are left out.
    pub min_per_label: usize,
    pub train: TrainConfig,
    pub head: HeadConfig,
    pub embed_batch_size: usize,
    /// Lets another thread stop the run (with a checkpoint); not saved.
    #[serde(skip)]
    pub control: crate::train::Control,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            data: PathBuf::new(),
            valid: None,
            text_column: None,
            label_column: None,
            name: None,
            base: crate::DEFAULT_MODEL.into(),
            valid_fraction: 0.2,
            min_per_label: 5,
            train: TrainConfig::default(),
            head: HeadConfig::default(),
            embed_batch_size: 64,
            control: crate::train::Control::default(),
        }
    }
}

/// Baseline (frozen base model + the same head) beside the fine-tuned model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsPair {
    pub baseline: Metrics,
    pub finetuned: Metrics,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub model_id: String,
    pub path: PathBuf,
    pub labels: Vec<String>,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub metrics: MetricsPair,
    pub training: TrainReport,
    pub seconds: f64,
    /// The validation metrics after each epoch of this run, with the time since it started:
    /// when a target accuracy was first reached.
    #[serde(default)]
    pub validation_curve: Vec<CurvePoint>,
}

/// Validation metrics after one epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurvePoint {
    pub epoch: usize,
    /// Seconds since the run started (loading, baseline and validation included).
    pub seconds: f64,
    pub accuracy: f64,
    pub f1_macro: f64,
}

/// What a run reports as it goes.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// A stage starts ("loading data", "baseline", ...).
    Stage(&'a str),
    /// The run has an ID (before training starts).
    Started {
        model_id: &'a str,
    },
    Train(&'a Event),
}

/// The prepared data of a run.
struct Prepared {
    dataset_sha256: String,
    labels: Vec<String>,
    train: Vec<Example>,
    valid: Vec<Example>,
}

fn load_opts(o: &FinetuneOptions) -> LoadOptions {
    LoadOptions {
        text_column: o.text_column.clone(),
        label_column: o.label_column.clone(),
    }
}

fn prepare(o: &FinetuneOptions) -> Result<Prepared> {
    let ds = Dataset::load(&o.data, &load_opts(o))?;
    let ropts = ReviewOptions {
        min_per_label: o.min_per_label,
        ..Default::default()
    };
    let rev = review(&ds, &ropts, ModelView::default())?;
    if rev.blocking {
        let why: Vec<String> = rev
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Blocking)
            .map(|p| format!("{} {}", p.message, p.fix))
            .collect();
        return Err(Error::Dataset {
            path: o.data.clone(),
            reason: format!("cannot train on this file: {}", why.join(" ")),
        });
    }
    let rows = usable(&ds, o.min_per_label);
    let mut labels: Vec<String> = rows.iter().map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    let (train, valid) = match &o.valid {
        Some(vp) => {
            let vd = Dataset::load(vp, &load_opts(o))?;
            let unknown: Vec<String> = vd.label_counts().into_keys().filter(|l| !labels.contains(l)).collect();
            if !unknown.is_empty() {
                return Err(Error::Dataset {
                    path: vp.clone(),
                    reason: format!(
                        "labels not in the training data (or dropped there for too few rows): {}",
                        unknown.join(", ")
                    ),
                });
            }
            (rows, vd.examples.into_iter().filter(|e| !e.text.is_empty()).collect())
        }
        None => {
            let split = stratified_split(&rows, o.valid_fraction, o.train.seed);
            (
                split.train.iter().map(|i| rows[*i].clone()).collect(),
                split.valid.iter().map(|i| rows[*i].clone()).collect::<Vec<_>>(),
            )
        }
    };
    if valid.is_empty() {
        return Err(Error::Dataset {
            path: o.data.clone(),
            reason: "the validation split is empty; add rows or pass --valid FILE".into(),
        });
    }
    Ok(Prepared {
        dataset_sha256: ds.sha256,
        labels,
        train,
        valid,
    })
}

fn ids(rows: &[Example], labels: &[String]) -> Vec<usize> {
    rows.iter()
        .map(|e| labels.iter().position(|l| *l == e.label).unwrap_or(0))
        .collect()
}

fn texts(rows: &[Example]) -> Vec<&str> {
    rows.iter().map(|e| e.text.as_str()).collect()
}

/// Fits the head on the training rows, calibrates it on the validation rows and measures there.
fn evaluate(enc: &Encoder, p: &Prepared, head_cfg: &HeadConfig, bs: usize) -> Result<(LogisticHead, Metrics)> {
    let xt = enc.embed(&texts(&p.train), bs)?;
    let xv = enc.embed(&texts(&p.valid), bs)?;
    let yt = ids(&p.train, &p.labels);
    let yv = ids(&p.valid, &p.labels);
    let mut head = LogisticHead::fit(&xt, &yt, &p.labels, head_cfg)?;
    head.calibrate(&xv, &yv)?;
    let probs = head.predict_proba(&xv)?;
    let m = Metrics::compute(&p.labels, &yv, &probs, &xv)?;
    Ok((head, m))
}

/// The validation score early stopping compares: macro-F1, then how well the labels separate.
/// Macro-F1 saturates at 1 on easy data; the silhouette keeps telling tighter clusters apart
/// (its weight is small enough that one row more right always wins).
fn score(m: &Metrics) -> f64 {
    m.f1_macro + 0.01 * m.silhouette
}

/// Runs a fine-tune into `registry`.
pub fn finetune(
    o: &FinetuneOptions,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    run(o, None, registry, sources, on)
}

/// Resumes the interrupted or failed run `id` from its last checkpoint, or starts a queued one.
pub fn resume(
    id: &str,
    control: crate::train::Control,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    let rec = registry.get_any(id)?.ok_or_else(|| Error::ModelState {
        id: id.into(),
        reason: "is not in the registry (see `attune models list --all`)".into(),
    })?;
    if rec.status == crate::registry::Status::Ready {
        return Err(Error::ModelState {
            id: id.into(),
            reason: "is already complete; nothing to resume".into(),
        });
    }
    // A run that started has its options in its manifest; a queued one only in its row.
    let manifest = registry.partial_dir(id).join("manifest.json");
    #[derive(Deserialize)]
    struct Partial {
        options: FinetuneOptions,
    }
    let options = if manifest.exists() {
        crate::encoder::config::read_json::<Partial>(&manifest).map(|p| p.options)
    } else {
        serde_json::from_value(rec.params.clone()).map_err(|e| Error::InvalidArgument(e.to_string()))
    };
    let mut options = options.map_err(|e| Error::ModelState {
        id: id.into(),
        reason: format!("cannot be resumed: {e}"),
    })?;
    options.control = control;
    registry.restart(id)?;
    run(
        &options,
        Some((id.to_string(), rec.dataset_sha256)),
        registry,
        sources,
        on,
    )
}

fn run(
    o: &FinetuneOptions,
    resuming: Option<(String, String)>,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    let start = Instant::now();
    on(Progress::Stage("loading data"));
    let p = prepare(o)?;
    if let Some((id, sha)) = &resuming {
        if *sha != p.dataset_sha256 {
            return Err(Error::ModelState {
                id: id.clone(),
                reason: format!(
                    "was trained on {} as it was then; the file has changed since",
                    o.data.display()
                ),
            });
        }
    }
    on(Progress::Stage("loading the base model"));
    let base = resolve_model(&o.base, sources)?;
    let enc = Encoder::load(&base.dir, &EncoderOptions::default())?;
    on(Progress::Stage("measuring the base model (baseline)"));
    let (_, baseline) = evaluate(&enc, &p, &o.head, o.embed_batch_size)?;
    let params = serde_json::to_value(o).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let id = match &resuming {
        Some((id, _)) => id.clone(),
        None => registry.begin(o.name.as_deref(), &o.base, &p.dataset_sha256, &params)?,
    };
    on(Progress::Started { model_id: &id });
    let dir = registry.partial_dir(&id);
    let result = (|| -> Result<Outcome> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        write_manifest(
            &dir,
            &serde_json::json!({"id": id, "status": "FINETUNING", "options": o}),
        )?;
        let data = TrainData {
            texts: texts(&p.train),
            labels: ids(&p.train, &p.labels),
            n_labels: p.labels.len(),
        };
        // Each validation's metrics wait for the trainer's Epoch event, which carries the epoch
        // number (a resumed run does not start at epoch 1).
        let pending = std::cell::Cell::new(None);
        let mut curve = Vec::new();
        let mut validate = |e: &Encoder| -> Result<f64> {
            let m = evaluate(e, &p, &o.head, o.embed_batch_size)?.1;
            pending.set(Some((start.elapsed().as_secs_f64(), m.accuracy, m.f1_macro)));
            Ok(score(&m))
        };
        let setup = RunSetup {
            ckpt_dir: &dir.join("checkpoints"),
            resume: resuming.is_some(),
            control: &o.control,
        };
        let report = train(&enc, &data, &o.train, setup, &mut validate, &mut |ev| {
            if let (Event::Epoch { epoch, .. }, Some((seconds, accuracy, f1_macro))) = (ev, pending.take()) {
                curve.push(CurvePoint {
                    epoch: *epoch,
                    seconds,
                    accuracy,
                    f1_macro,
                });
            }
            on(Progress::Train(ev))
        })?;
        on(Progress::Stage("measuring the fine-tuned model"));
        let (head, finetuned) = evaluate(&enc, &p, &o.head, o.embed_batch_size)?;
        on(Progress::Stage("saving"));
        enc.save(&dir.join("model"))?;
        head.save(&dir.join("head.json"))?;
        let card = format!(
            "# {}\n\nFine-tuned by attune {} from `{}` on {} rows ({} labels: {}).\n\nValidation ({} rows): accuracy {:.4} (base model {:.4}), macro-F1 {:.4} (base {:.4}).\n\nLoad it with `SentenceTransformer(\"<this folder>\")`.\n",
            o.name.as_deref().unwrap_or(&id),
            env!("CARGO_PKG_VERSION"),
            o.base,
            p.train.len(),
            p.labels.len(),
            p.labels.join(", "),
            p.valid.len(),
            finetuned.accuracy,
            baseline.accuracy,
            finetuned.f1_macro,
            baseline.f1_macro,
        );
        std::fs::write(dir.join("model/README.md"), card).map_err(|e| Error::io(dir.join("model/README.md"), e))?;
        // The held-out rows, so maps and evaluations can use them later without the split.
        write_rows(&dir.join(VALIDATION_FILE), &p.valid)?;
        let metrics = MetricsPair { baseline, finetuned };
        let outcome = Outcome {
            model_id: id.clone(),
            path: registry.model_dir(&id),
            labels: p.labels.clone(),
            train_rows: p.train.len(),
            valid_rows: p.valid.len(),
            metrics,
            training: report,
            seconds: start.elapsed().as_secs_f64(),
            validation_curve: curve,
        };
        write_manifest(
            &dir,
            &serde_json::json!({
                "id": id,
                "name": o.name,
                "status": "READY",
                "attune_version": env!("CARGO_PKG_VERSION"),
                "base_model": o.base,
                "base_model_dir": base.dir,
                "dataset": {"path": o.data, "sha256": p.dataset_sha256, "train_rows": p.train.len(), "valid_rows": p.valid.len()},
                "labels": p.labels,
                "seed": o.train.seed,
                "options": o,
                "metrics": outcome.metrics,
                "training": outcome.training,
                "seconds": outcome.seconds,
                "created": chrono::Utc::now().to_rfc3339(),
            }),
        )?;
        Ok(outcome)
    })();
    match result {
        Ok(outcome) => {
            let metrics = serde_json::to_value(&outcome.metrics).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            registry.complete(&id, &metrics)?;
            Ok(outcome)
        }
        // A requested stop leaves the run FINETUNING, so it resumes from its checkpoint.
        Err(e @ Error::Interrupted(_)) => Err(e),
        Err(e) => {
            let _ = registry.fail(&id, &e.to_string());
            Err(e)
        }
    }
}

/// The validation rows a model was measured on, stored in its folder.
pub const VALIDATION_FILE: &str = "validation.csv";

fn write_rows(path: &Path, rows: &[Example]) -> Result<()> {
    crate::util::write_atomic(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(["text", "label"])?;
        for e in rows {
            c.write_record([&e.text, &e.label])?;
        }
        c.flush()
    })
}

fn write_manifest(dir: &Path, value: &serde_json::Value) -> Result<()> {
    crate::util::write_atomic(&dir.join("manifest.json"), |w| {
        serde_json::to_writer_pretty(w, value).map_err(std::io::Error::other)
    })
}
