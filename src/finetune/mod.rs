//! The whole fine-tuning job, from a labelled file to a registry model ID: load and review the
//! data, split it three ways (training, selection, test), measure the frozen base model, train,
//! choose between the base and the fine-tuned model on the selection rows, report both on the
//! test rows, and store the chosen model only once it is complete. A run can be resumed from its
//! last checkpoint.

mod manifest;
mod measure;
mod prepare;
mod progress_sink;
mod select;
mod store;
mod validate;

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::Example;
use crate::encoder::{Encoder, EncoderOptions, LongText};
use crate::error::{Error, Result};
use crate::eval::Metrics;
use crate::head::{Head, HeadConfig};
use crate::registry::{Heartbeat, Registry};
use crate::source::{resolve_model, SourceOptions};
use crate::train::{
    recipe, train, DataStats, Event, HeadInit, RunSetup, TrainConfig, TrainData, TrainReport, TrainSettings,
};

pub use manifest::{DatasetRef, Manifest, ManifestNames, RunRecord, MANIFEST_FILE};
pub use prepare::RowsUsed;
pub use progress_sink::RegistryProgress;
pub use select::{score, Candidate, Selection};
pub use store::{held_out_file, HELD_OUT_FILE, HELD_OUT_JSONL, SELECTION_FILE, SELECTION_JSONL};
pub use validate::Setting;

use measure::{fit_head, measure, Measured};
use prepare::{prepare, Prepared};

/// Everything a fine-tuning run needs; saved in the manifest so `--resume` can rebuild it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneOptions {
    pub data: PathBuf,
    /// A separate file of selection rows; else a stratified part of `data`.
    pub valid: Option<PathBuf>,
    /// A separate file of test rows; else a stratified part of `data`.
    #[serde(default)]
    pub test: Option<PathBuf>,
    pub text_column: Option<String>,
    pub label_column: Option<String>,
    /// Splits a CSV/TSV label cell into several labels: multi-label data.
    #[serde(default)]
    pub label_separator: Option<String>,
    /// What happens to texts longer than the model's window.
    #[serde(default)]
    pub long_text: LongText,
    pub name: Option<String>,
    pub base: String,
    /// Share of each label held out as selection rows (at most 1,000 rows in all).
    pub valid_fraction: f64,
    /// Share of each label held out as test rows (at most 1,000 rows in all).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Labels with fewer usable rows are left out.
    pub min_per_label: usize,
    /// What the user set; the rest follows from the data (see [`crate::train::recipe`]).
    pub train: TrainSettings,
    /// How the heads are fitted: the library's measured choice, not a setting of the run. It is
    /// never read back from a manifest, so a run resumed after an upgrade fits its heads as this
    /// version does (a saved first step of 0.1 from before C = 10 would leave the head short of
    /// its optimum). It is written in the shape earlier versions require, so a worker of an
    /// earlier version sharing the registry can still run a job this version queued.
    #[serde(skip_deserializing, serialize_with = "head_as_earlier_versions_read")]
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
            test: None,
            text_column: None,
            label_column: None,
            label_separator: None,
            long_text: LongText::default(),
            name: None,
            base: crate::DEFAULT_MODEL.into(),
            valid_fraction: 0.15,
            test_fraction: default_test_fraction(),
            min_per_label: 5,
            train: TrainSettings::default(),
            head: HeadConfig::default(),
            embed_batch_size: 64,
            control: crate::train::Control::default(),
        }
    }
}

fn default_test_fraction() -> f64 {
    0.2
}

/// The head settings as versions before the C = 10 head wrote them (a required field there,
/// with a numeric first step): those versions' own defaults, every field spelled out so a new
/// field of [`HeadConfig`] has to be decided on here.
fn head_as_earlier_versions_read<S: serde::Serializer>(_: &HeadConfig, s: S) -> std::result::Result<S::Ok, S::Error> {
    HeadConfig {
        l2: None,
        class_weighted: true,
        steps: 300,
        learning_rate: Some(0.1),
    }
    .serialize(s)
}

impl FinetuneOptions {
    /// The seed of the splits and of training.
    pub fn seed(&self) -> u64 {
        self.train.seed.unwrap_or(TrainConfig::default().seed)
    }
}

/// Baseline (frozen base model + the same head) beside the fine-tuned model, both measured on
/// the test rows.
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
    /// How many rows trained, selected and tested, and where they came from.
    pub rows: RowsUsed,
    /// The test-row figures of both candidates.
    pub metrics: MetricsPair,
    /// The model this run yields, chosen on the selection rows.
    pub selected: Candidate,
    /// Why, in one sentence.
    pub reason: String,
    /// Both candidates on the selection rows.
    pub selection: Selection,
    /// The training settings the run used (the recipe with the user's settings on top).
    pub recipe: TrainConfig,
    pub training: TrainReport,
    pub seconds: f64,
    /// The validation metrics after each epoch of this run, with the time since it started:
    /// when a target accuracy was first reached.
    #[serde(default)]
    pub validation_curve: Vec<CurvePoint>,
}

/// Selection-row metrics after one epoch.
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

fn ids(rows: &[Example], labels: &[String]) -> Vec<usize> {
    rows.iter()
        .map(|e| labels.iter().position(|l| *l == e.label).unwrap_or(0))
        .collect()
}

/// Each row's label set as ids into `labels`.
fn sets(rows: &[Example], labels: &[String]) -> Vec<Vec<usize>> {
    rows.iter()
        .map(|e| {
            e.labels
                .iter()
                .filter_map(|l| labels.iter().position(|x| x == l))
                .collect()
        })
        .collect()
}

/// The group each multi-label row's batches and silhouette go by: its rarest label, or one
/// group past the labels for an empty set.
pub(crate) fn groups(rows: &[Example], labels: &[String]) -> Vec<usize> {
    let k = labels.len();
    let s = sets(rows, labels);
    let mut count = vec![0usize; k];
    for &j in s.iter().flatten() {
        count[j] += 1;
    }
    s.iter()
        .map(|set| set.iter().copied().min_by_key(|&j| (count[j], j)).unwrap_or(k))
        .collect()
}

fn texts(rows: &[Example]) -> Vec<&str> {
    rows.iter().map(|e| e.text.as_str()).collect()
}

/// With `--long-text chunk`, each training row's windows as text, so training sees every part
/// of a long text over the epochs and not only its start.
fn train_windows<'a>(enc: &Encoder, rows: &'a [Example], long: &LongText) -> Result<Option<Vec<Vec<&'a str>>>> {
    if long.mode != crate::encoder::LongTextMode::Chunk {
        return Ok(None);
    }
    rows.iter()
        .map(|e| {
            let w = enc.windows(&e.text, long)?;
            Ok(w.iter()
                .map(|w| e.text.get(w.span.0..w.span.1).unwrap_or(&e.text))
                .collect())
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Where the end-to-end head starts: the head fitted on the base model.
fn head_init(head: &Head) -> HeadInit {
    let (weights, bias) = match head {
        Head::Single(h) => (h.weights.clone(), h.bias.clone()),
        Head::Multi(h) => (h.weights.clone(), h.bias.clone()),
    };
    HeadInit { weights, bias }
}

/// Training rows the per-epoch score fits its head on at most: embedding all 8,000 training
/// rows of a large set after every epoch cost 40 s an epoch; the score only ranks epochs.
const SCORING_ROWS: usize = 2000;

/// A stratified, seeded subset of the training rows for the per-epoch score.
fn scoring_rows(p: &Prepared, seed: u64) -> Vec<Example> {
    if p.train.len() <= SCORING_ROWS {
        return p.train.clone();
    }
    let f = SCORING_ROWS as f64 / p.train.len() as f64;
    let s = crate::data::stratified_split(&p.train, f, seed.wrapping_add(2));
    s.valid.iter().map(|i| p.train[*i].clone()).collect()
}

/// Runs a fine-tune into `registry`.
pub fn finetune(
    o: &FinetuneOptions,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    o.validate()?;
    run(o, None, registry, sources, on)
}

/// Queues a run for a job runner (the server's, or any process's): the settings are checked
/// here, before anything loads, and the data file's hash is recorded so a resumed run can tell
/// whether the file changed.
pub fn enqueue(o: &FinetuneOptions, registry: &Registry) -> Result<String> {
    o.validate()?;
    let bytes = std::fs::read(&o.data).map_err(|e| Error::io(&o.data, e))?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let params = serde_json::to_value(o).map_err(|e| Error::Internal(e.to_string()))?;
    registry.enqueue(o.name.as_deref(), &o.base, &sha, &params)
}

/// Resumes the interrupted, failed or cancelled run `id` from its last checkpoint, or starts a
/// queued one: a user's explicit resume.
pub fn resume(
    id: &str,
    control: crate::train::Control,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    continue_run(id, true, control, registry, sources, on)
}

/// What a job runner does: starts a queued run, or takes over one whose owner is gone. Failed
/// and cancelled runs are left to a user's `resume`.
pub fn take_over(
    id: &str,
    control: crate::train::Control,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    continue_run(id, false, control, registry, sources, on)
}

fn continue_run(
    id: &str,
    explicit: bool,
    control: crate::train::Control,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    let owner = crate::registry::owner_id();
    // Claimed first: whatever fails from here on is marked on a row this process owns, so a
    // job runner does not pick the same broken run again and again.
    registry.claim(id, owner, explicit)?;
    let result = claimed_run(id, owner, control, registry, sources, on);
    // Failures before training started still end the claim, so the run is not retried forever.
    match &result {
        Err(Error::Interrupted(_)) => registry.release(id, owner)?,
        Err(Error::Leased { .. } | Error::Cancelled { .. }) | Ok(_) => {}
        Err(e) => registry.fail(id, Some(owner), &e.to_string())?,
    }
    result
}

fn claimed_run(
    id: &str,
    owner: &str,
    control: crate::train::Control,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    // The lease is renewed from the claim on: loading and the baseline can outlast a term.
    let own = control.child();
    let heartbeat = Heartbeat::start(registry.home(), id, owner, own.clone());
    let rec = registry
        .get_any(id)?
        .ok_or_else(|| Error::NotInRegistry { id: id.into() })?;
    // A run that started has its options in its manifest; a queued one only in its row. With
    // object storage, the run's folder comes from the store (another machine may have begun it).
    registry.fetch_run(id)?;
    let partial = registry.partial_dir(id);
    let options = if partial.join(MANIFEST_FILE).exists() {
        Manifest::read(&partial).map(|m| m.options)
    } else {
        serde_json::from_value(rec.params.clone()).map_err(|e| Error::InvalidArgument(e.to_string()))
    };
    let mut options = options.map_err(|e| Error::ModelState {
        id: id.into(),
        reason: format!("cannot be resumed: {e}"),
    })?;
    options.control = own;
    run(
        &options,
        Some((id.to_string(), rec.dataset_sha256, heartbeat)),
        registry,
        sources,
        on,
    )
}

fn run(
    o: &FinetuneOptions,
    resuming: Option<(String, String, Heartbeat)>,
    registry: &mut Registry,
    sources: &SourceOptions,
    on: &mut dyn FnMut(Progress),
) -> Result<Outcome> {
    let start = Instant::now();
    on(Progress::Stage("loading data"));
    let p = prepare(o)?;
    let loss = recipe(&DataStats { rows: p.train.len() }, &o.train).loss;
    if p.multi_label && !matches!(loss, crate::train::LossKind::Ce | crate::train::LossKind::Cosine) {
        return Err(Error::InvalidArgument(format!(
            "--loss {} takes one label per row; multi-label data trains with --loss ce or --loss cosine",
            loss.as_str()
        )));
    }
    if let Some((id, sha, _)) = &resuming {
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
    let mut enc = Encoder::load(&base.dir, &EncoderOptions::default())?;
    enc.set_training_precision(o.train.dtype.unwrap_or_default())
        .map_err(|e| Error::Setting {
            setting: Setting::Dtype,
            reason: e.to_string(),
        })?;
    on(Progress::Stage("measuring the base model (baseline)"));
    let baseline = measure(&enc, &p, o)?;
    let params = serde_json::to_value(o).map_err(|e| Error::Internal(e.to_string()))?;
    let owner = crate::registry::owner_id();
    let is_resume = resuming.is_some();
    // A new run's own control: a cancellation stops this run and nothing else.
    let mut own = o.clone();
    let (id, heartbeat) = match resuming {
        Some((id, _, heartbeat)) => (id, heartbeat),
        None => {
            let id = registry.begin(o.name.as_deref(), &o.base, &p.dataset_sha256, &params, owner)?;
            own.control = o.control.child();
            let heartbeat = Heartbeat::start(registry.home(), &id, owner, own.control.clone());
            (id, heartbeat)
        }
    };
    on(Progress::Started { model_id: &id });
    let job = Job {
        o: &own,
        p: &p,
        id: &id,
        base_dir: &base.dir,
        resuming: is_resume,
        start,
    };
    let result = job.train_select_save(&enc, baseline, registry, on);
    let (cancelled, lost) = (heartbeat.cancelled(), heartbeat.lost());
    drop(heartbeat);
    match result {
        // Another process holds the run now: leave its row and folder to it.
        _ if lost => Err(Error::Leased {
            id: id.clone(),
            owner: "another process took it over".into(),
        }),
        Ok(outcome) => {
            registry.complete(&id, owner, &store::registry_metrics(&outcome))?;
            Ok(outcome)
        }
        Err(Error::Interrupted(_)) if cancelled => {
            registry.cancelled(&id, owner)?;
            Err(Error::Cancelled { id })
        }
        // A requested stop leaves the run FINETUNING with its lease given up, so the next
        // start resumes it from its checkpoint at once.
        Err(e @ Error::Interrupted(_)) => {
            registry.release(&id, owner)?;
            Err(e)
        }
        Err(e) => {
            let _ = registry.fail(&id, Some(owner), &e.to_string());
            Err(e)
        }
    }
}

/// A run once it has an ID.
struct Job<'a> {
    o: &'a FinetuneOptions,
    p: &'a Prepared,
    id: &'a str,
    base_dir: &'a std::path::Path,
    resuming: bool,
    start: Instant,
}

impl Job<'_> {
    fn train_select_save(
        &self,
        enc: &Encoder,
        baseline: Measured,
        registry: &Registry,
        on: &mut dyn FnMut(Progress),
    ) -> Result<Outcome> {
        let (o, p) = (self.o, self.p);
        let dir = registry.partial_dir(self.id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let manifest = Manifest {
            id: self.id.to_string(),
            status: crate::registry::Status::Finetuning,
            options: o.clone(),
            result: None,
        };
        manifest.write(&dir)?;
        let data = TrainData {
            texts: texts(&p.train),
            labels: if p.multi_label {
                groups(&p.train, &p.labels)
            } else {
                ids(&p.train, &p.labels)
            },
            n_labels: p.labels.len(),
            sets: p.multi_label.then(|| sets(&p.train, &p.labels)),
            windows: train_windows(enc, &p.train, &o.long_text)?,
            head: Some(head_init(&baseline.head)),
        };
        let cfg = recipe(&DataStats { rows: data.texts.len() }, &o.train);
        let (report, curve) = self.train(enc, &data, &cfg, &dir, registry, on)?;
        on(Progress::Stage("measuring the fine-tuned model"));
        let finetuned = measure(enc, p, o)?;
        let selection = select::select(baseline.select.clone(), finetuned.select.clone());
        on(Progress::Stage("saving"));
        let head = match selection.selected {
            Candidate::Finetuned => {
                enc.save(&dir.join("model"))?;
                &finetuned.head
            }
            Candidate::Base => {
                Encoder::load(self.base_dir, &EncoderOptions::default())?.save(&dir.join("model"))?;
                &baseline.head
            }
        };
        head.save(&dir.join("head.json"))?;
        let outcome = Outcome {
            model_id: self.id.to_string(),
            path: registry.model_dir(self.id),
            labels: p.labels.clone(),
            rows: p.rows.clone(),
            metrics: MetricsPair {
                baseline: baseline.test,
                finetuned: finetuned.test,
            },
            selected: selection.selected,
            reason: selection.reason.clone(),
            selection,
            recipe: cfg,
            training: report,
            seconds: self.start.elapsed().as_secs_f64(),
            validation_curve: curve,
        };
        store::write_model_files(&dir, o, p, &outcome, self.base_dir)?;
        Ok(outcome)
    }

    /// Trains `enc` in place; each epoch is scored on the selection rows only.
    fn train(
        &self,
        enc: &Encoder,
        data: &TrainData,
        cfg: &TrainConfig,
        dir: &std::path::Path,
        registry: &Registry,
        on: &mut dyn FnMut(Progress),
    ) -> Result<(TrainReport, Vec<CurvePoint>)> {
        let (o, p, start) = (self.o, self.p, self.start);
        // Each epoch's metrics wait for the trainer's Epoch event, which carries the epoch
        // number (a resumed run does not start at epoch 1).
        let pending = std::cell::Cell::new(None);
        let mut curve = Vec::new();
        let scoring = scoring_rows(p, o.seed());
        let mut validate = |e: &Encoder| -> Result<f64> {
            let m = fit_head(e, p, &scoring, o)?.1;
            pending.set(Some((start.elapsed().as_secs_f64(), m.accuracy, m.f1_macro)));
            Ok(score(&m))
        };
        let setup = RunSetup {
            ckpt_dir: &dir.join("checkpoints"),
            resume: self.resuming,
            control: &o.control,
        };
        let report = train(enc, data, cfg, setup, &mut validate, &mut |ev| {
            // Each checkpoint reaches the shared store, where another machine can resume it.
            if let Event::Checkpointed { name } = ev {
                if let Err(e) = registry.sync_run(self.id) {
                    eprintln!(
                        "attune: run {}: checkpoint {name} stays on this machine only: {e}",
                        self.id
                    );
                }
            }
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
        Ok((report, curve))
    }
}
