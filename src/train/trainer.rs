//! The training loop: steps of the chosen loss, a validation score after each epoch (early
//! stopping keeps the best epoch's weights), and a checkpoint per epoch from which an
//! interrupted run resumes exactly (weights, optimizer moments, RNG position, history).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::loss::{
    cosine_pair_loss, head_bce, head_cross_entropy, in_batch_cosine, in_batch_cosine_sets, supervised_contrastive,
};
use super::optim::{scheduled_lr, AdamW, AdamWConfig};
use super::pass::{forward_backward, Pass};
use super::sampler::{setfit_pairs, BalancedBatches, ShuffledBatches};
use super::{LossKind, TrainConfig};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::util::{write_atomic, write_dir_atomic};

/// Asks a running training to stop: it stops after the current step and saves a checkpoint from
/// which `--resume` continues exactly.
#[derive(Debug, Clone, Default)]
pub struct Control {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The flags of the controls this one was made from: a stop of a parent (a server shutting
    /// down) stops this run too; a stop of this run (its cancellation) leaves the parent running.
    parents: Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Control {
    pub fn request_stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// A control of its own that also stops when this one does.
    pub fn child(&self) -> Control {
        let mut parents = self.parents.clone();
        parents.push(self.stop.clone());
        Control {
            stop: Default::default(),
            parents,
        }
    }

    pub fn stop_requested(&self) -> bool {
        let parent = self.parents.iter().any(|p| p.load(std::sync::atomic::Ordering::SeqCst));
        if parent || self.stop.load(std::sync::atomic::Ordering::SeqCst) {
            return true;
        }
        // Fault injection for tests: a stop request at a given step, as SIGTERM would make.
        static AT: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
        let at = *AT.get_or_init(|| {
            std::env::var("ATTUNE_FAULT_STOP_AT_STEP")
                .ok()
                .and_then(|v| v.parse().ok())
        });
        at.is_some_and(|n| STEPS.load(std::sync::atomic::Ordering::SeqCst) >= n)
    }
}

/// Fault injection for the dashboard's browser tests: a tiny model trains too fast for a page
/// that polls each second to see progress move, so each step can be slowed down.
fn slow_step_for_tests() {
    static MS: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let ms = *MS.get_or_init(|| {
        std::env::var("ATTUNE_FAULT_SLOW_STEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(ms) = ms {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Keeps the word table's row gradients on while training, and turns them off however it ends.
struct RowCapture<'a>(&'a Encoder);

impl Drop for RowCapture<'_> {
    fn drop(&mut self) {
        self.0.capture_word_rows(false);
    }
}

/// Steps taken in this process (for the fault-injection hook above).
static STEPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The rows to train on: texts with label ids.
#[derive(Debug, Clone)]
pub struct TrainData<'a> {
    pub texts: Vec<&'a str>,
    /// One label id per text; for multi-label rows, the id the batches are drawn by (the
    /// row's rarest label, or `n_labels` for an empty set).
    pub labels: Vec<usize>,
    pub n_labels: usize,
    /// Multi-label rows: each text's label ids (possibly none). `ce` then trains a sigmoid per
    /// label ([`head_bce`]) and `cosine` pairs by set overlap ([`in_batch_cosine_sets`]).
    pub sets: Option<Vec<Vec<usize>>>,
    /// Long texts in windows (`--long-text chunk`): each row's window texts. Every epoch a
    /// row trains on one of its windows, drawn from the seed, the epoch and the row (so a
    /// resumed run draws the same); `None` trains on `texts` (truncated).
    pub windows: Option<Vec<Vec<&'a str>>>,
    /// Where the cross-entropy loss's head starts (the logistic regression fitted on the base
    /// model); the other losses ignore it.
    pub head: Option<HeadInit>,
}

impl TrainData<'_> {
    /// The text row `row` trains on in `epoch`.
    pub fn text(&self, row: usize, epoch: usize, seed: u64) -> &str {
        match self.windows.as_ref().map(|w| &w[row]) {
            Some(w) if w.len() > 1 => {
                // SplitMix64 of (seed, epoch, row): a draw that needs no RNG state.
                let mut z = seed
                    ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ (row as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                w[(z % w.len() as u64) as usize]
            }
            _ => self.texts[row],
        }
    }
}

/// A linear head's starting weights: row-major (labels, dim) and a bias per label.
#[derive(Debug, Clone)]
pub struct HeadInit {
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Checkpoint names of the cross-entropy head's weights, beside the encoder's.
const HEAD_WEIGHT: &str = "attune_head.weight";
const HEAD_BIAS: &str = "attune_head.bias";

/// The head the cross-entropy loss trains with the encoder.
fn head_vars(encoder: &Encoder, data: &TrainData) -> Result<Vec<(String, candle_core::Var)>> {
    let init = data
        .head
        .as_ref()
        .ok_or_else(|| Error::Internal("the cross-entropy loss needs a starting head (TrainData::head)".into()))?;
    let (k, d) = (data.n_labels, encoder.dim());
    if init.weights.len() != k * d || init.bias.len() != k {
        return Err(Error::InvalidArgument(format!(
            "the starting head has {} weights and {} biases for {k} labels of {d} dimensions",
            init.weights.len(),
            init.bias.len()
        )));
    }
    let dev = encoder.device();
    let w = candle_core::Tensor::from_slice(&init.weights, (k, d), dev)?.to_dtype(encoder.dtype())?;
    let b = candle_core::Tensor::from_slice(&init.bias, k, dev)?.to_dtype(encoder.dtype())?;
    Ok(vec![
        (HEAD_WEIGHT.to_string(), candle_core::Var::from_tensor(&w)?),
        (HEAD_BIAS.to_string(), candle_core::Var::from_tensor(&b)?),
    ])
}

/// What the loop reports as it goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Step {
        step: usize,
        total: usize,
        epoch: usize,
        loss: f64,
        lr: f64,
        steps_per_s: f64,
        eta_s: f64,
    },
    Epoch {
        epoch: usize,
        epochs: usize,
        score: f64,
        improved: bool,
    },
    EarlyStop {
        epoch: usize,
        best_epoch: usize,
    },
    Resumed {
        epoch: usize,
        step: usize,
    },
    /// A checkpoint was written whole (its folder and then `LATEST`).
    Checkpointed {
        name: String,
    },
}

/// One epoch's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub mean_loss: f64,
    pub score: f64,
    pub seconds: f64,
}

/// The state saved with each checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    epochs_done: usize,
    step: usize,
    total_steps: usize,
    /// Word position of the sampling RNG at the start of the current epoch.
    sample_rng_pos: String,
    /// Word position of the dropout RNG now.
    dropout_rng_pos: String,
    /// Steps of the current epoch already taken (a checkpoint made mid-epoch on a stop).
    steps_into_epoch: usize,
    epoch_loss_sum: f64,
    epoch_loss_n: usize,
    best_score: Option<f64>,
    best_epoch: usize,
    stale_epochs: usize,
    stopped: bool,
    history: Vec<EpochRecord>,
    train_seconds: f64,
}

/// What training did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub steps: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub best_score: Option<f64>,
    pub early_stopped: bool,
    pub history: Vec<EpochRecord>,
    /// Seconds in training steps (without validation).
    pub train_seconds: f64,
}

/// Per label, the weights that make its positives and its negatives count half each (as the
/// multi-label head is fitted), so rare labels are not learned as "never".
fn balanced_weights(sets: &[Vec<usize>], k: usize) -> (Vec<f32>, Vec<f32>) {
    let n = sets.len();
    let mut pos = vec![0usize; k];
    for &j in sets.iter().flatten() {
        if j < k {
            pos[j] += 1;
        }
    }
    pos.iter()
        .map(|&p| {
            if p > 0 && p < n {
                (n as f32 / (2.0 * p as f32), n as f32 / (2.0 * (n - p) as f32))
            } else {
                (1.0, 1.0)
            }
        })
        .unzip()
}

/// Steps in one epoch for this data and config.
pub fn steps_per_epoch(n_rows: usize, cfg: &TrainConfig) -> usize {
    let bs = cfg.batch_size.max(2);
    match cfg.loss {
        LossKind::Supcon | LossKind::Cosine | LossKind::Ce => n_rows.div_ceil(bs),
        LossKind::Setfit => (2 * n_rows * cfg.setfit_iterations).div_ceil(bs / 2),
    }
}

fn latest(dir: &Path) -> Option<PathBuf> {
    let name = std::fs::read_to_string(dir.join("LATEST")).ok()?;
    let p = dir.join(name.trim());
    p.join("state.json").exists().then_some(p)
}

/// Where a run keeps its checkpoints, whether it picks up the latest one, and how it is stopped.
#[derive(Debug, Clone, Copy)]
pub struct RunSetup<'a> {
    pub ckpt_dir: &'a Path,
    pub resume: bool,
    pub control: &'a Control,
}

/// Trains `encoder` in place. `validate` scores the current weights (higher is better) after each
/// epoch. Checkpoints go to `run.ckpt_dir`; with `run.resume`, the latest one there is restored
/// first.
pub fn train(
    encoder: &Encoder,
    data: &TrainData,
    cfg: &TrainConfig,
    run: RunSetup,
    validate: &mut dyn FnMut(&Encoder) -> Result<f64>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<TrainReport> {
    let RunSetup {
        ckpt_dir,
        resume,
        control,
    } = run;
    if data.texts.len() != data.labels.len() || data.texts.is_empty() {
        return Err(Error::Internal("training needs one label per text".into()));
    }
    if cfg.batch_size < 4 {
        return Err(Error::InvalidArgument("--batch-size must be at least 4".into()));
    }
    let n = data.texts.len();
    if data.sets.as_ref().is_some_and(|s| s.len() != n) || data.windows.as_ref().is_some_and(|w| w.len() != n) {
        return Err(Error::InvalidArgument(
            "training needs one label set and one list of windows per text".into(),
        ));
    }
    if data.sets.is_some() && !matches!(cfg.loss, LossKind::Ce | LossKind::Cosine) {
        return Err(Error::InvalidArgument(format!(
            "--loss {} takes one label per row; multi-label data trains with --loss ce or --loss cosine",
            cfg.loss.as_str()
        )));
    }
    let bce_weights = data.sets.as_deref().map(|s| balanced_weights(s, data.n_labels));
    let per_epoch = steps_per_epoch(data.texts.len(), cfg);
    let mut total = per_epoch * cfg.epochs;
    if let Some(m) = cfg.max_steps {
        total = total.min(m);
    }
    let warmup = ((total as f64) * cfg.warmup_ratio).round() as usize;
    let head = match cfg.loss {
        LossKind::Ce => head_vars(encoder, data)?,
        _ => Vec::new(),
    };
    let mut vars = encoder.named_vars();
    vars.extend(head.iter().cloned());
    let mut opt = AdamW::new(
        vars,
        AdamWConfig {
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    )?;
    // Row updates of the word table are a CPU kernel; on a GPU the table is updated densely.
    let rows = encoder.device().is_cpu();
    if rows {
        opt = opt.with_row_updates(&encoder.word_table())?;
    }
    encoder.capture_word_rows(rows);
    let _capture = RowCapture(encoder);
    // Two streams: batches (replayable from an epoch's start) and dropout.
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(1);
    let mut st = State {
        epochs_done: 0,
        step: 0,
        total_steps: total,
        sample_rng_pos: "0".into(),
        dropout_rng_pos: "0".into(),
        steps_into_epoch: 0,
        epoch_loss_sum: 0.0,
        epoch_loss_n: 0,
        best_score: None,
        best_epoch: 0,
        stale_epochs: 0,
        stopped: false,
        history: Vec::new(),
        train_seconds: 0.0,
    };
    std::fs::create_dir_all(ckpt_dir).map_err(|e| Error::io(ckpt_dir, e))?;
    if resume {
        if let Some(dir) = latest(ckpt_dir) {
            st = crate::encoder::config::read_json(&dir.join("state.json"))?;
            let weights = load_tensors(&dir.join("weights.safetensors"))?;
            encoder.set_weights(&weights)?;
            set_head(&head, &weights, &dir)?;
            opt.load(&dir.join("optimizer.safetensors"))?;
            let pos = |v: &str| -> Result<u128> {
                v.parse().map_err(|_| Error::Weights {
                    path: dir.join("state.json"),
                    reason: "bad rng position".into(),
                })
            };
            sample_rng.set_word_pos(pos(&st.sample_rng_pos)?);
            rng.set_word_pos(pos(&st.dropout_rng_pos)?);
            on_event(&Event::Resumed {
                epoch: st.epochs_done,
                step: st.step,
            });
        }
    }
    let lengths: Vec<usize> = data.texts.iter().map(|t| t.len()).collect();
    while st.epochs_done < cfg.epochs && st.step < total && !st.stopped {
        let epoch = st.epochs_done + 1;
        let epoch_start = Instant::now();
        // The epoch's batches come from the sampling RNG as it was at the epoch's start; a run
        // resumed mid-epoch replays the draws it had made (without training on them).
        let skip = st.steps_into_epoch;
        if skip == 0 {
            st.sample_rng_pos = sample_rng.get_word_pos().to_string();
            st.epoch_loss_sum = 0.0;
            st.epoch_loss_n = 0;
        }
        let steps_this_epoch = per_epoch.min(total - st.step + skip);
        // Multi-label rows with no label are drawn as a group of their own.
        let groups = data.n_labels + usize::from(data.sets.is_some());
        let mut sampler = BalancedBatches::new(&data.labels, groups, cfg.batch_size, cfg.balanced);
        let shuffled = match cfg.loss {
            LossKind::Ce => ShuffledBatches::new(&lengths, cfg.batch_size, &mut sample_rng),
            _ => ShuffledBatches::default(),
        };
        let pairs = match cfg.loss {
            LossKind::Setfit => setfit_pairs(&data.labels, cfg.setfit_iterations, &mut sample_rng),
            LossKind::Supcon | LossKind::Cosine | LossKind::Ce => Vec::new(),
        };
        if matches!(cfg.loss, LossKind::Supcon | LossKind::Cosine) {
            for _ in 0..skip {
                sampler.next_batch(&mut sample_rng);
            }
        }
        let pairs_per_step = (cfg.batch_size / 2).max(1);
        for i in skip..steps_this_epoch {
            if control.stop_requested() {
                st.steps_into_epoch = i;
                st.dropout_rng_pos = rng.get_word_pos().to_string();
                let name = format!("epoch-{epoch}-step-{i}");
                checkpoint(ckpt_dir, &name, encoder, &head, &opt, &st)?;
                on_event(&Event::Checkpointed { name });
                return Err(Error::Interrupted(format!(
                    "stopped at step {} of {total}; checkpoint saved",
                    st.step
                )));
            }
            let t0 = Instant::now();
            let lr = scheduled_lr(cfg.learning_rate, st.step, warmup, total);
            let pass = match cfg.loss {
                LossKind::Supcon | LossKind::Cosine => {
                    let rows = sampler.next_batch(&mut sample_rng);
                    let texts: Vec<&str> = rows.iter().map(|r| data.text(*r, epoch, cfg.seed)).collect();
                    let labels: Vec<usize> = rows.iter().map(|r| data.labels[*r]).collect();
                    let batch = encoder.tokenize(&texts)?;
                    let sets: Option<Vec<&[usize]>> = data
                        .sets
                        .as_ref()
                        .map(|s| rows.iter().map(|r| s[*r].as_slice()).collect());
                    forward_backward(encoder, &batch, &mut rng, &|emb| match (&sets, cfg.loss) {
                        (Some(sets), _) => in_batch_cosine_sets(emb, sets),
                        (None, LossKind::Supcon) => supervised_contrastive(emb, &labels, cfg.temperature),
                        (None, _) => in_batch_cosine(emb, &labels),
                    })?
                }
                LossKind::Ce => {
                    let rows = shuffled.batch(i);
                    let texts: Vec<&str> = rows.iter().map(|r| data.text(*r, epoch, cfg.seed)).collect();
                    let labels: Vec<usize> = rows.iter().map(|r| data.labels[*r]).collect();
                    let batch = encoder.tokenize(&texts)?;
                    let (w, b) = (head[0].1.as_tensor(), head[1].1.as_tensor());
                    let targets = match (&data.sets, &bce_weights) {
                        (Some(sets), Some(_)) => {
                            let picked: Vec<Vec<usize>> = rows.iter().map(|r| sets[*r].clone()).collect();
                            Some(crate::head::multi::multi_hot(&picked, data.n_labels))
                        }
                        _ => None,
                    };
                    forward_backward(encoder, &batch, &mut rng, &|emb| match (&targets, &bce_weights) {
                        (Some(targets), Some((wp, wn))) => head_bce(emb, w, b, targets, (wp, wn)),
                        _ => head_cross_entropy(emb, w, b, &labels),
                    })?
                }
                LossKind::Setfit => {
                    let start = (i * pairs_per_step) % pairs.len().max(1);
                    let chunk = &pairs[start..(start + pairs_per_step).min(pairs.len())];
                    let mut texts: Vec<&str> = chunk.iter().map(|p| data.text(p.a, epoch, cfg.seed)).collect();
                    texts.extend(chunk.iter().map(|p| data.text(p.b, epoch, cfg.seed)));
                    let target: Vec<f32> = chunk.iter().map(|p| p.target).collect();
                    let batch = encoder.tokenize(&texts)?;
                    let n = chunk.len();
                    forward_backward(encoder, &batch, &mut rng, &|emb| {
                        cosine_pair_loss(&emb.narrow(0, 0, n)?, &emb.narrow(0, n, n)?, &target)
                    })?
                }
            };
            let Pass { loss, grads } = pass;
            opt.step_rows(&grads, lr, &encoder.take_word_rows())?;
            let l = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            if !l.is_finite() {
                return Err(Error::InvalidArgument(format!(
                    "the loss became {l} at step {}: lower --learning-rate",
                    st.step + 1
                )));
            }
            st.epoch_loss_sum += l;
            st.epoch_loss_n += 1;
            st.step += 1;
            STEPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            slow_step_for_tests();
            st.train_seconds += t0.elapsed().as_secs_f64();
            let rate = st.step as f64 / st.train_seconds.max(1e-9);
            on_event(&Event::Step {
                step: st.step,
                total,
                epoch,
                loss: l,
                lr,
                steps_per_s: rate,
                eta_s: (total - st.step) as f64 / rate.max(1e-9),
            });
        }
        let score = validate(encoder)?;
        let improved = st.best_score.is_none_or(|b| score > b);
        if improved {
            st.best_score = Some(score);
            st.best_epoch = epoch;
            st.stale_epochs = 0;
            save_tensors(&encoder.tensors(), &ckpt_dir.join("best.safetensors"))?;
        } else {
            st.stale_epochs += 1;
        }
        st.history.push(EpochRecord {
            epoch,
            mean_loss: st.epoch_loss_sum / st.epoch_loss_n.max(1) as f64,
            score,
            seconds: epoch_start.elapsed().as_secs_f64(),
        });
        on_event(&Event::Epoch {
            epoch,
            epochs: cfg.epochs,
            score,
            improved,
        });
        st.epochs_done = epoch;
        if st.stale_epochs >= cfg.patience && st.epochs_done < cfg.epochs {
            st.stopped = true;
            on_event(&Event::EarlyStop {
                epoch,
                best_epoch: st.best_epoch,
            });
        }
        st.steps_into_epoch = 0;
        st.sample_rng_pos = sample_rng.get_word_pos().to_string();
        st.dropout_rng_pos = rng.get_word_pos().to_string();
        checkpoint(ckpt_dir, &format!("epoch-{epoch}"), encoder, &head, &opt, &st)?;
        on_event(&Event::Checkpointed {
            name: format!("epoch-{epoch}"),
        });
        // Fault injection for the crash tests: die like a killed process, without unwinding.
        if std::env::var("ATTUNE_FAULT_ABORT_AFTER_EPOCH")
            .ok()
            .and_then(|v| v.parse().ok())
            == Some(epoch)
        {
            std::process::abort();
        }
    }
    // Training ends on the best epoch's weights.
    let best = ckpt_dir.join("best.safetensors");
    if st.best_epoch != st.epochs_done && best.exists() {
        encoder.set_weights(&load_tensors(&best)?)?;
    }
    Ok(TrainReport {
        steps: st.step,
        epochs_run: st.epochs_done,
        best_epoch: st.best_epoch,
        best_score: st.best_score,
        early_stopped: st.stopped,
        history: st.history,
        train_seconds: st.train_seconds,
    })
}

fn save_tensors(t: &HashMap<String, candle_core::Tensor>, path: &Path) -> Result<()> {
    let tmp = path.with_extension("tmp");
    crate::encoder::weights::save_safetensors(t, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn load_tensors(path: &Path) -> Result<HashMap<String, candle_core::Tensor>> {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu).map_err(|e| Error::Weights {
        path: path.into(),
        reason: e.to_string(),
    })
}

/// Restores the cross-entropy head (if the run has one) from a checkpoint's tensors.
fn set_head(
    head: &[(String, candle_core::Var)],
    weights: &HashMap<String, candle_core::Tensor>,
    dir: &Path,
) -> Result<()> {
    for (name, var) in head {
        let t = weights.get(name).ok_or_else(|| Error::Weights {
            path: dir.join("weights.safetensors"),
            reason: format!("checkpoint lacks {name}"),
        })?;
        var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
    }
    Ok(())
}

/// Writes the checkpoint folder `name` whole, then points LATEST at it, then removes the older
/// ones: a crash at any moment leaves a complete checkpoint to resume from.
fn checkpoint(
    dir: &Path,
    name: &str,
    encoder: &Encoder,
    head: &[(String, candle_core::Var)],
    opt: &AdamW,
    st: &State,
) -> Result<()> {
    let mut weights = encoder.tensors();
    for (n, v) in head {
        weights.insert(n.clone(), v.as_tensor().clone());
    }
    write_dir_atomic(&dir.join(name), |d| {
        crate::encoder::weights::save_safetensors(&weights, &d.join("weights.safetensors"))?;
        opt.save(&d.join("optimizer.safetensors"))?;
        let json = serde_json::to_vec_pretty(st).map_err(|source| Error::Json {
            path: d.join("state.json"),
            source,
        })?;
        std::fs::write(d.join("state.json"), json).map_err(|e| Error::io(d, e))
    })?;
    write_atomic(&dir.join("LATEST"), |w| w.write_all(name.as_bytes()))?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("epoch-") && n != name {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}
