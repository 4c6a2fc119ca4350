//! Sentence-embedding encoders: load a model folder, tokenise, run (for inference or training),
//! pool, normalise, and save a folder that sentence-transformers loads unchanged.

mod batching;
mod bert;
pub mod chunk;
pub mod config;
mod layers;
mod mode;
pub mod modernbert;
mod mpnet;
mod packing;
pub mod pooling;
mod precision;
mod roberta;
mod run_batches;
mod save;
pub mod tokenize;
pub mod weights;
mod word_rows;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

pub use batching::{token_batches, DEFAULT_BATCH_TOKENS};
pub use chunk::{ChunkPool, LongText, LongTextMode};
pub use config::{ModelConfig, PoolingConfig, SentenceConfig};
pub use layers::{dropout, LayerNorm, Linear};
pub use mode::ForwardMode;
pub use precision::Precision;
pub use tokenize::{TextTokenizer, TokenBatch, Truncate};
pub use word_rows::{WordRows, WORD_TABLE};

use crate::error::{Error, Result};

/// How to load an encoder. `Default` is f32 on the CPU.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EncoderOptions {
    pub device: Device,
    /// The dtype of the (master) weights; f32 for training, f64 for gradient checks.
    pub dtype: DType,
    /// Overrides the folder's `max_seq_length`.
    pub max_seq_length: Option<usize>,
    /// The precision of inference passes (training always runs on the f32 weights).
    pub precision: Precision,
    /// The weights will not change after loading (embedding, classifying, serving), so f32
    /// inference on the CPU may keep each linear weight a second time, laid out for it (see
    /// [`Linear::set_precision`]). Leave it off for an encoder that will be trained.
    pub frozen: bool,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            device: Device::Cpu,
            dtype: DType::F32,
            max_seq_length: None,
            precision: Precision::F32,
            frozen: false,
        }
    }
}

impl EncoderOptions {
    pub fn with_dtype(mut self, dtype: DType) -> Self {
        self.dtype = dtype;
        self
    }

    pub fn with_max_seq_length(mut self, n: usize) -> Self {
        self.max_seq_length = Some(n);
        self
    }

    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// For an encoder whose weights will not change (see [`EncoderOptions::frozen`]).
    pub fn frozen(mut self) -> Self {
        self.frozen = true;
        self
    }
}

/// The transformer under the pooling, one variant per model family.
#[derive(Debug, Clone)]
enum Backbone {
    /// BERT, MPNet and (XLM-)RoBERTa share one layer stack.
    Bert(bert::Bert),
    ModernBert(modernbert::ModernBert),
}

/// A loaded sentence-embedding model whose weights are trainable variables.
pub struct Encoder {
    dir: PathBuf,
    config: ModelConfig,
    sentence: SentenceConfig,
    backbone: Backbone,
    tokenizer: TextTokenizer,
    varmap: VarMap,
    /// Checkpoint tensors no layer uses (pooler, buffers), written back unchanged on save.
    extra: HashMap<String, Tensor>,
    device: Device,
    dtype: DType,
    precision: Precision,
    training_precision: Precision,
    /// Padded tokens an inference batch may hold (see [`token_batches`]).
    batch_tokens: usize,
    /// Loaded with [`EncoderOptions::frozen`].
    frozen: bool,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("dtype", &self.dtype)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Loads the model folder `dir` (Hugging Face / sentence-transformers layout).
    pub fn load(dir: &Path, opts: &EncoderOptions) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::folder(dir, "not a folder"));
        }
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        let sentence = SentenceConfig::from_dir(dir, config.hidden_size())?;
        let max_pos = config.max_tokens();
        let max_len = opts
            .max_seq_length
            .or(sentence.max_seq_length)
            .unwrap_or(max_pos)
            .min(max_pos);
        let tokenizer = TextTokenizer::from_file(&dir.join("tokenizer.json"), max_len)?.with_text_options(
            sentence.lowercase,
            sentence.default_prompt.clone(),
            sentence.xlmr_tokenizer(),
        )?;
        tokenizer.check_vocab(config.vocab_size())?;
        // The CPU unless ATTUNE_DEVICE names a GPU; a device set in the options wins.
        let device = if opts.device.is_cpu() {
            crate::device::from_env()?
        } else {
            opts.device.clone()
        };
        let mut weights = weights::Weights::from_dir(dir, &device, opts.dtype)?;
        let backbone = match &config {
            ModelConfig::Bert(c) => Backbone::Bert(bert::Bert::load(c, &mut weights)?),
            ModelConfig::Mpnet(c) => Backbone::Bert(mpnet::load(c, &mut weights)?),
            ModelConfig::Roberta(c) => Backbone::Bert(roberta::load(c, &mut weights)?),
            ModelConfig::ModernBert(c) => Backbone::ModernBert(modernbert::ModernBert::load(c, &mut weights)?),
        };
        let (varmap, extra) = weights.finish();
        let mut encoder = Encoder {
            dir: dir.to_path_buf(),
            config,
            sentence,
            backbone,
            tokenizer,
            varmap,
            extra,
            device,
            dtype: opts.dtype,
            precision: Precision::F32,
            training_precision: Precision::F32,
            batch_tokens: DEFAULT_BATCH_TOKENS,
            frozen: opts.frozen,
        };
        encoder.set_precision(opts.precision)?;
        Ok(encoder)
    }

    /// Makes inference passes compute in `precision`, from the current weights (set it again
    /// after changing them). Lower precisions run on the CPU only.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        if precision != Precision::F32 && !self.device.is_cpu() {
            return Err(Error::InvalidArgument(format!(
                "dtype {precision} runs on the CPU only; unset ATTUNE_DEVICE or use --dtype f32 on a GPU"
            )));
        }
        let frozen = self.frozen;
        for l in self.linears_mut() {
            l.set_precision(precision, frozen)?;
        }
        self.precision = precision;
        Ok(())
    }

    /// Makes training passes multiply in `precision`: f32, or bf16 (operands rounded to bf16,
    /// f32 sums, on f32 master weights: gradients and the optimizer stay f32). int8 is for
    /// inference only.
    pub fn set_training_precision(&mut self, precision: Precision) -> Result<()> {
        let bf16 = match precision {
            Precision::F32 => false,
            Precision::Bf16 if self.device.is_cpu() => true,
            Precision::Bf16 => {
                return Err(Error::InvalidArgument(
                    "training in bf16 runs on the CPU only: unset ATTUNE_DEVICE, or train in f32".into(),
                ))
            }
            Precision::Int8 => {
                return Err(Error::InvalidArgument(
                    "int8 is for inference (embed, classify, eval, serve); train in f32 or bf16".into(),
                ))
            }
        };
        for l in self.linears_mut() {
            l.set_train_bf16(bf16);
        }
        self.training_precision = precision;
        Ok(())
    }

    fn linears(&self) -> Vec<&layers::Linear> {
        match &self.backbone {
            Backbone::Bert(b) => b.linears(),
            Backbone::ModernBert(m) => m.linears(),
        }
    }

    fn linears_mut(&mut self) -> Vec<&mut layers::Linear> {
        match &mut self.backbone {
            Backbone::Bert(b) => b.linears_mut(),
            Backbone::ModernBert(m) => m.linears_mut(),
        }
    }

    /// The precision training passes multiply in.
    pub fn training_precision(&self) -> Precision {
        self.training_precision
    }

    /// The precision inference passes compute in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Caps inference batches at `tokens` padded tokens (at least 1), besides their text count.
    pub fn set_batch_tokens(&mut self, tokens: usize) {
        self.batch_tokens = tokens.max(1);
    }

    pub fn batch_tokens(&self) -> usize {
        self.batch_tokens
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn sentence_config(&self) -> &SentenceConfig {
        &self.sentence
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Length of the sentence vectors.
    pub fn dim(&self) -> usize {
        let p = &self.sentence.pooling;
        let h = self.config.hidden_size();
        [
            p.pooling_mode_cls_token,
            p.pooling_mode_max_tokens,
            p.pooling_mode_mean_tokens,
            p.pooling_mode_mean_sqrt_len_tokens,
        ]
        .iter()
        .filter(|on| **on)
        .count()
            * h
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Tokens kept per text; longer texts are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.tokenizer.max_len()
    }

    /// Bytes the weights take: the variables and the copies inference passes use.
    pub fn memory_bytes(&self) -> u64 {
        let vars: usize = self
            .vars()
            .iter()
            .map(|v| v.elem_count() * v.dtype().size_in_bytes())
            .sum();
        let copies: usize = self.linears().iter().map(|l| l.copy_bytes()).sum();
        (vars + copies) as u64
    }

    /// The trainable variables (every weight the forward pass uses).
    pub fn vars(&self) -> Vec<Var> {
        self.varmap.all_vars()
    }

    /// The trainable variables by checkpoint name.
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Turns row gradients for the word-embedding table on or off: while on, each training
    /// forward records its lookup (see [`WordRows`]) and the table itself gets no gradient, so
    /// the optimizer must be given [`Encoder::take_word_rows`] after each backward pass.
    pub fn capture_word_rows(&self, on: bool) {
        self.word_capture().set(on)
    }

    /// The lookups recorded since the last call (empty while capture is off).
    pub fn take_word_rows(&self) -> Vec<WordRows> {
        self.word_capture().take()
    }

    fn word_capture(&self) -> &word_rows::Capture {
        match &self.backbone {
            Backbone::Bert(b) => b.capture(),
            Backbone::ModernBert(m) => m.capture(),
        }
    }

    /// The trainable variable name of the word-embedding table (with the checkpoint's prefix),
    /// whose gradients come as rows while capture is on.
    pub fn word_table(&self) -> String {
        let name = match &self.backbone {
            Backbone::Bert(_) => WORD_TABLE,
            Backbone::ModernBert(_) => modernbert::WORD_TABLE,
        };
        self.named_vars()
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| n.ends_with(name))
            .unwrap_or_else(|| name.to_string())
    }

    pub fn tokenize(&self, texts: &[&str]) -> Result<TokenBatch> {
        self.tokenizer.batch(texts, &self.device)
    }

    /// Token states (batch, seq, hidden) before pooling; in inference the padding's rows may be
    /// zeros (every family skips the padding there), so read them under the batch's mask.
    pub fn token_states(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        match &self.backbone {
            Backbone::Bert(m) => m.forward(batch, mode),
            Backbone::ModernBert(m) => m.forward(batch, mode),
        }
    }

    /// Sentence embeddings (batch, dim): backbone, pooling, then normalisation when the folder
    /// asks for it. Differentiable unless `mode` is [`ForwardMode::Inference`].
    pub fn forward(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        let states = self.token_states(batch, mode)?;
        let pooled = pooling::pool(&states, &batch.mask, &self.sentence.pooling)?;
        if self.sentence.normalize {
            pooling::normalize(&pooled)
        } else {
            Ok(pooled)
        }
    }

    /// Embeds `texts` for inference, `batch_size` at a time, in input order.
    pub fn embed(&self, texts: &[&str], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        self.embed_with_progress(texts, batch_size, &mut |_| {})
    }

    /// As [`Encoder::embed`], calling `progress` with the number of texts done after each batch.
    pub fn embed_with_progress(
        &self,
        texts: &[&str],
        batch_size: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, batch_size, Truncate::End, progress)
    }

    /// Embeds `texts`, cutting too-long ones as `truncate` says.
    pub fn embed_with(
        &self,
        texts: &[&str],
        batch_size: usize,
        truncate: Truncate,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument("batch size must be at least 1".into()));
        }
        let max = self.max_seq_length();
        let lengths = self.tokenizer.untruncated_lengths(texts)?;
        if truncate == Truncate::None {
            // Checked in input order here, so the error names the caller's index.
            if let Some((index, n)) = lengths.iter().enumerate().find(|(_, n)| **n > max) {
                return Err(Error::TooLong { index, tokens: *n, max });
            }
        }
        let lengths: Vec<usize> = lengths.into_iter().map(|n| n.min(max)).collect();
        let batches = token_batches(&lengths, batch_size, self.batch_tokens);
        let batch_of = |chunk: &[usize]| {
            let batch_texts: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            self.tokenizer.batch_with(&batch_texts, &self.device, truncate)
        };
        self.embed_batches(texts.len(), &batches, &batch_of, progress)
    }

    /// Every tensor of the model by checkpoint name: trained variables and untouched extras.
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        let mut all = self.extra.clone();
        for (name, var) in self.named_vars() {
            all.insert(name, var.as_tensor().clone());
        }
        all
    }

    /// Writes a model folder at `dest` that sentence-transformers loads unchanged. The folder
    /// appears whole or not at all.
    pub fn save(&self, dest: &Path) -> Result<()> {
        save::save(self, dest)
    }
}

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

impl Encoder {
    /// Sets every trainable variable from `tensors` (by checkpoint name), as a checkpoint or a
    /// best-epoch snapshot holds them. Every variable must be present with its shape.
    pub fn set_weights(&self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        for (name, var) in self.named_vars() {
            let t = tensors.get(&name).ok_or_else(|| Error::Weights {
                path: self.dir.clone(),
                reason: format!("checkpoint lacks {name}"),
            })?;
            if t.dims() != var.dims() {
                return Err(Error::Weights {
                    path: self.dir.clone(),
                    reason: format!("checkpoint {name} has shape {:?}, the model {:?}", t.dims(), var.dims()),
                });
            }
            var.set(&t.to_dtype(self.dtype)?.to_device(&self.device)?)?;
        }
        Ok(())
    }
}
