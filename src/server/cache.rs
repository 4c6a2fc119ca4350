//! Loaded models, each loaded once and kept while memory allows: the least recently used model
//! is dropped when the total weight memory would pass the budget. Each model has a batcher that
//! joins concurrent requests into shared forward passes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::metrics::Metrics;
use crate::encoder::{Encoder, EncoderOptions, Precision, Truncate};
use crate::error::{Error, Result};
use crate::head::{Head, LogisticHead};

/// Texts one forward pass takes at most.
const MAX_BATCH_TEXTS: usize = 256;

/// A model ready to serve.
pub struct Loaded {
    pub encoder: Encoder,
    /// The classification head of a fine-tuned model.
    pub head: Option<Head>,
    /// How a fine-tuned model's run embedded long texts: the default for its requests.
    pub long_text: crate::encoder::LongText,
    bytes: u64,
    last_used: AtomicU64,
    queue: Mutex<Vec<Pending>>,
    running: AtomicBool,
    /// Heads fitted on classify calls' examples, by the SHA-256 of the examples.
    example_heads: Mutex<HashMap<[u8; 32], LogisticHead>>,
    /// Held while an example head is fitted.
    pub fit_gate: tokio::sync::Mutex<()>,
}

/// Example heads a model keeps at most (a few KiB each); past it the set starts over.
const MAX_EXAMPLE_HEADS: usize = 64;

struct Pending {
    texts: Vec<String>,
    truncate: Truncate,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>>>,
}

/// The cache.
pub struct ModelCache {
    budget_bytes: u64,
    precision: Precision,
    models: Mutex<HashMap<PathBuf, Arc<Loaded>>>,
    /// One gate per model being loaded: concurrent first requests wait for one load instead
    /// of each loading a copy (50 cold requests once took 2.9 GB past the budget).
    loading: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
    loads: AtomicU64,
    clock: AtomicU64,
}

impl ModelCache {
    pub fn new(budget_bytes: u64, precision: Precision) -> Self {
        ModelCache {
            budget_bytes,
            precision,
            models: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            loads: AtomicU64::new(0),
            clock: AtomicU64::new(0),
        }
    }

    /// The model whose encoder lives in `encoder_dir` (and head in `head`), loading it if needed.
    /// Blocking: call from a blocking thread.
    pub fn get(&self, encoder_dir: PathBuf, head: Option<PathBuf>) -> Result<Arc<Loaded>> {
        if let Some(m) = self.hit(&encoder_dir) {
            return Ok(m);
        }
        let gate = self
            .loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(encoder_dir.clone())
            .or_default()
            .clone();
        let _loading = gate.lock().unwrap_or_else(|e| e.into_inner());
        // Whoever held the gate before us may have loaded it.
        if let Some(m) = self.hit(&encoder_dir) {
            return Ok(m);
        }
        let result = self.load(encoder_dir.clone(), head);
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&encoder_dir);
        result
    }

    fn hit(&self, encoder_dir: &PathBuf) -> Option<Arc<Loaded>> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let models = self.lock();
        let m = models.get(encoder_dir)?;
        m.last_used.store(tick, Ordering::Relaxed);
        Some(m.clone())
    }

    fn load(&self, encoder_dir: PathBuf, head: Option<PathBuf>) -> Result<Arc<Loaded>> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let opts = EncoderOptions::default().with_precision(self.precision).frozen();
        let encoder = Encoder::load(&encoder_dir, &opts)?;
        let long_text = head
            .as_deref()
            .and_then(std::path::Path::parent)
            .map(crate::model::trained_long_text)
            .unwrap_or_default();
        let head = head.map(|h| Head::load(&h)).transpose()?;
        if let Some(h) = &head {
            if h.dim() != encoder.dim() {
                return Err(Error::folder(
                    &encoder_dir,
                    format!(
                        "head.json expects {}-dim embeddings, the encoder gives {}",
                        h.dim(),
                        encoder.dim()
                    ),
                ));
            }
        }
        self.loads.fetch_add(1, Ordering::Relaxed);
        let bytes = encoder.memory_bytes();
        let loaded = Arc::new(Loaded {
            encoder,
            head,
            long_text,
            bytes,
            last_used: AtomicU64::new(tick),
            queue: Mutex::new(Vec::new()),
            running: AtomicBool::new(false),
            example_heads: Mutex::new(HashMap::new()),
            fit_gate: tokio::sync::Mutex::new(()),
        });
        let mut models = self.lock();
        let mut total: u64 = models.values().map(|m| m.bytes).sum::<u64>() + bytes;
        while total > self.budget_bytes && !models.is_empty() {
            let Some(oldest) = models
                .iter()
                .min_by_key(|(_, m)| m.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(m) = models.remove(&oldest) {
                total -= m.bytes;
            }
        }
        models.insert(encoder_dir, loaded.clone());
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Loaded>>> {
        self.models.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops a model (after it was deleted).
    pub fn evict(&self, encoder_dir: &PathBuf) {
        self.lock().remove(encoder_dir);
    }

    pub fn loaded(&self) -> usize {
        self.lock().len()
    }

    /// Loads done since start (a test counts them under concurrency).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

impl Loaded {
    pub fn example_head(&self, key: [u8; 32]) -> Option<LogisticHead> {
        self.example_heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
    }

    pub fn keep_example_head(&self, key: [u8; 32], head: LogisticHead) {
        let mut heads = self.example_heads.lock().unwrap_or_else(|e| e.into_inner());
        if heads.len() >= MAX_EXAMPLE_HEADS {
            heads.clear();
        }
        heads.insert(key, head);
    }

    /// Embeds `texts`, sharing forward passes with concurrent callers.
    pub async fn embed(
        self: &Arc<Self>,
        texts: Vec<String>,
        truncate: Truncate,
        metrics: Arc<Metrics>,
    ) -> Result<Vec<Vec<f32>>> {
        let (tx, rx) = oneshot::channel();
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push(Pending {
            texts,
            truncate,
            reply: tx,
        });
        if !self.running.swap(true, Ordering::SeqCst) {
            let me = self.clone();
            tokio::task::spawn_blocking(move || me.drain(&metrics));
        }
        rx.await
            .map_err(|_| Error::Internal("the embedding worker stopped".into()))?
    }

    /// Embeds `texts` as `long` says: truncated ones share the batching queue; chunked ones
    /// (their windows vary in number) run on their own.
    pub async fn embed_long(
        self: &Arc<Self>,
        texts: Vec<String>,
        long: crate::encoder::LongText,
        truncate: Truncate,
        metrics: Arc<Metrics>,
    ) -> Result<Vec<Vec<f32>>> {
        if long.mode == crate::encoder::LongTextMode::Truncate {
            return self.embed(texts, truncate, metrics).await;
        }
        let me = self.clone();
        metrics.observe_batch(texts.len());
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            me.encoder.embed_long(&refs, 32, &long)
        })
        .await
        .map_err(|e| Error::Internal(format!("the embedding task failed: {e}")))?
    }

    /// Runs queued requests until none is left, joining those with the same truncation.
    fn drain(&self, metrics: &Metrics) {
        loop {
            let batch: Vec<Pending> = {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                let mut taken = Vec::new();
                let mut n = 0;
                let mode = q.first().map(|p| p.truncate);
                let mut i = 0;
                while i < q.len() {
                    if Some(q[i].truncate) == mode && (n == 0 || n + q[i].texts.len() <= MAX_BATCH_TEXTS) {
                        n += q[i].texts.len();
                        taken.push(q.remove(i));
                    } else {
                        i += 1;
                    }
                }
                taken
            };
            if batch.is_empty() {
                self.running.store(false, Ordering::SeqCst);
                // A request may have arrived between the empty look and the store.
                let empty = self.queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
                if empty || self.running.swap(true, Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            let truncate = batch[0].truncate;
            let all: Vec<&str> = batch.iter().flat_map(|p| p.texts.iter().map(String::as_str)).collect();
            metrics.observe_batch(all.len());
            let result = self.encoder.embed_with(&all, MAX_BATCH_TEXTS, truncate, &mut |_| {});
            match result {
                Ok(mut rows) => {
                    for p in batch.into_iter().rev() {
                        let part = rows.split_off(rows.len() - p.texts.len());
                        let _ = p.reply.send(Ok(part));
                    }
                }
                Err(_) if batch.len() > 1 => {
                    // One request's text may be at fault (too long): answer each on its own.
                    for p in batch {
                        let refs: Vec<&str> = p.texts.iter().map(String::as_str).collect();
                        let _ = p
                            .reply
                            .send(self.encoder.embed_with(&refs, MAX_BATCH_TEXTS, truncate, &mut |_| {}));
                    }
                }
                Err(e) => {
                    if let Some(p) = batch.into_iter().next() {
                        let _ = p.reply.send(Err(e));
                    }
                }
            }
        }
    }
}
