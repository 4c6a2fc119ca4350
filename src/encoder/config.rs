//! The files of a sentence-transformers model folder that say how to build and run it:
//! `config.json` (the backbone, chosen by `model_type`), `modules.json`,
//! `sentence_bert_config.json` and the pooling module's `config.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The model families attune can build, chosen by `config.json`'s `model_type`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ModelConfig {
    Bert(BertConfig),
}

/// Names accepted in `model_type` for each family.
const BERT_TYPES: &[&str] = &["bert"];

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_text(path)?;
        #[derive(Deserialize)]
        struct Probe {
            model_type: Option<String>,
        }
        let probe: Probe = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.into(),
            source,
        })?;
        let model_type = probe.model_type.ok_or_else(|| {
            Error::folder(
                path.parent().unwrap_or(path),
                "config.json has no \"model_type\"; cannot tell which architecture to build",
            )
        })?;
        if BERT_TYPES.contains(&model_type.as_str()) {
            let cfg: BertConfig = serde_json::from_str(&text).map_err(|source| Error::Json {
                path: path.into(),
                source,
            })?;
            cfg.validate(path)?;
            return Ok(ModelConfig::Bert(cfg));
        }
        Err(Error::UnknownModelType {
            path: path.into(),
            model_type,
            supported: BERT_TYPES.join(", "),
        })
    }

    pub fn hidden_size(&self) -> usize {
        match self {
            ModelConfig::Bert(c) => c.hidden_size,
        }
    }

    pub fn max_position_embeddings(&self) -> usize {
        match self {
            ModelConfig::Bert(c) => c.max_position_embeddings,
        }
    }
}

/// The activation between the two feed-forward matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Exact GELU (erf), Hugging Face's `gelu`.
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluTanh,
    #[serde(rename = "relu")]
    Relu,
}

/// BERT hyper-parameters, with the field names of Hugging Face's `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BertConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: Activation,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> Activation {
    Activation::Gelu
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

impl BertConfig {
    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::folder(path.parent().unwrap_or(path), reason));
        if self.hidden_size == 0
            || self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return bad(format!(
                "config.json: hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        match self.position_embedding_type.as_deref() {
            None | Some("absolute") => Ok(()),
            Some(other) => bad(format!(
                "config.json: position_embedding_type {other:?} is not supported (only \"absolute\")"
            )),
        }
    }
}

/// How token vectors become one sentence vector, as in `1_Pooling/config.json`.
/// Several modes may be on at once; their outputs are concatenated in sentence-transformers'
/// order (cls, max, mean, mean_sqrt_len).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolingConfig {
    #[serde(default)]
    pub word_embedding_dimension: usize,
    #[serde(default)]
    pub pooling_mode_cls_token: bool,
    #[serde(default)]
    pub pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pub pooling_mode_max_tokens: bool,
    #[serde(default)]
    pub pooling_mode_mean_sqrt_len_tokens: bool,
}

impl PoolingConfig {
    pub fn mean(dim: usize) -> Self {
        PoolingConfig {
            word_embedding_dimension: dim,
            pooling_mode_cls_token: false,
            pooling_mode_mean_tokens: true,
            pooling_mode_max_tokens: false,
            pooling_mode_mean_sqrt_len_tokens: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        !(self.pooling_mode_cls_token
            || self.pooling_mode_mean_tokens
            || self.pooling_mode_max_tokens
            || self.pooling_mode_mean_sqrt_len_tokens)
    }
}

/// One entry of `modules.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleEntry {
    pub idx: usize,
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// What the sentence-transformers files of a folder say, with sentence-transformers' defaults
/// for a plain Hugging Face folder (mean pooling, no normalisation).
#[derive(Debug, Clone)]
pub struct SentenceConfig {
    pub pooling: PoolingConfig,
    pub normalize: bool,
    /// `max_seq_length` from `sentence_bert_config.json`, when it has one.
    pub max_seq_length: Option<usize>,
    /// Whether the folder had `modules.json` (a sentence-transformers folder).
    pub has_modules: bool,
}

impl SentenceConfig {
    pub fn from_dir(dir: &Path, hidden_size: usize) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        let mut cfg = SentenceConfig {
            pooling: PoolingConfig::mean(hidden_size),
            normalize: false,
            max_seq_length: None,
            has_modules: false,
        };
        if modules_path.exists() {
            cfg.has_modules = true;
            let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
            for m in &modules {
                let kind = m.kind.rsplit('.').next().unwrap_or(&m.kind);
                match kind {
                    "Transformer" => {}
                    "Pooling" => {
                        let p = dir.join(&m.path).join("config.json");
                        cfg.pooling = read_json(&p)?;
                        if cfg.pooling.is_empty() {
                            return Err(Error::folder(dir, format!("{}: no pooling mode is on", p.display())));
                        }
                    }
                    "Normalize" => cfg.normalize = true,
                    other => {
                        return Err(Error::folder(
                            dir,
                            format!("modules.json: module {other:?} ({}) is not supported yet; attune supports Transformer, Pooling and Normalize", m.path),
                        ))
                    }
                }
            }
        }
        let sbert = dir.join("sentence_bert_config.json");
        if sbert.exists() {
            #[derive(Deserialize)]
            struct Sbert {
                max_seq_length: Option<usize>,
            }
            let s: Sbert = read_json(&sbert)?;
            cfg.max_seq_length = s.max_seq_length;
        }
        Ok(cfg)
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    if !path.exists() {
        let dir = path.parent().unwrap_or(path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(Error::folder(dir, format!("{name} is missing")));
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: PathBuf::from(path),
        source,
    })
}
