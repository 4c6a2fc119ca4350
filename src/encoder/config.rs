//! The files of a sentence-transformers model folder that say how to build and run it:
//! `config.json` (the backbone, chosen by `model_type`), `modules.json`,
//! `sentence_bert_config.json` and the pooling module's `config.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use super::modernbert::ModernBertConfig;

/// The model families attune can build, chosen by `config.json`'s `model_type`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ModelConfig {
    Bert(BertConfig),
    /// MPNet: BERT's layers with relative position buckets in attention.
    Mpnet(BertConfig),
    /// RoBERTa and XLM-RoBERTa: BERT's layers with positions counted from the padding index.
    Roberta(BertConfig),
    ModernBert(ModernBertConfig),
}

/// Each family and the names `model_type` takes for it.
pub const FAMILIES: &[(&str, &[&str])] = &[
    ("BERT", &["bert"]),
    ("MPNet", &["mpnet"]),
    ("XLM-RoBERTa", &["xlm-roberta", "roberta"]),
    ("ModernBERT", &["modernbert"]),
];

fn family_of(model_type: &str) -> Option<&'static str> {
    FAMILIES
        .iter()
        .find(|(_, types)| types.contains(&model_type))
        .map(|(family, _)| *family)
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| Error::Json {
        path: path.into(),
        source,
    })
}

impl ModelConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_text(path)?;
        #[derive(Deserialize)]
        struct Probe {
            model_type: Option<String>,
        }
        let probe: Probe = parse(path, &text)?;
        let model_type = probe.model_type.ok_or_else(|| {
            Error::folder(
                path.parent().unwrap_or(path),
                "config.json has no \"model_type\"; cannot tell which architecture to build",
            )
        })?;
        let cfg = match family_of(&model_type) {
            Some("BERT") => ModelConfig::Bert(parse(path, &text)?),
            Some("MPNet") => ModelConfig::Mpnet(parse(path, &text)?),
            Some("XLM-RoBERTa") => ModelConfig::Roberta(parse(path, &text)?),
            Some("ModernBERT") => ModelConfig::ModernBert(parse(path, &text)?),
            _ => {
                return Err(Error::UnknownModelType {
                    path: path.into(),
                    model_type,
                    supported: FAMILIES
                        .iter()
                        .map(|(family, types)| format!("{family} ({})", types.join(", ")))
                        .collect::<Vec<_>>()
                        .join("; "),
                })
            }
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::folder(path.parent().unwrap_or(path), reason));
        let (hidden, heads) = (self.hidden_size(), self.heads());
        if hidden == 0 || heads == 0 || !hidden.is_multiple_of(heads) {
            return bad(format!(
                "config.json: hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
            ));
        }
        if self.max_tokens() == 0 {
            return bad(format!(
                "config.json: max_position_embeddings {} leaves no room for a token",
                self.max_position_embeddings()
            ));
        }
        match self {
            ModelConfig::Bert(c) | ModelConfig::Mpnet(c) | ModelConfig::Roberta(c) => {
                match c.position_embedding_type.as_deref() {
                    None | Some("absolute") => Ok(()),
                    Some(other) => bad(format!(
                        "config.json: position_embedding_type {other:?} is not supported (only \"absolute\")"
                    )),
                }
            }
            ModelConfig::ModernBert(c) => c.validate(path),
        }
    }

    /// The family's name, as `attune bases` and errors show it.
    pub fn family(&self) -> &'static str {
        match self {
            ModelConfig::Bert(_) => "BERT",
            ModelConfig::Mpnet(_) => "MPNet",
            ModelConfig::Roberta(_) => "XLM-RoBERTa",
            ModelConfig::ModernBert(_) => "ModernBERT",
        }
    }

    pub fn hidden_size(&self) -> usize {
        match self {
            ModelConfig::Bert(c) | ModelConfig::Mpnet(c) | ModelConfig::Roberta(c) => c.hidden_size,
            ModelConfig::ModernBert(c) => c.hidden_size,
        }
    }

    fn heads(&self) -> usize {
        match self {
            ModelConfig::Bert(c) | ModelConfig::Mpnet(c) | ModelConfig::Roberta(c) => c.num_attention_heads,
            ModelConfig::ModernBert(c) => c.num_attention_heads,
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            ModelConfig::Bert(c) | ModelConfig::Mpnet(c) | ModelConfig::Roberta(c) => c.vocab_size,
            ModelConfig::ModernBert(c) => c.vocab_size,
        }
    }

    pub fn max_position_embeddings(&self) -> usize {
        match self {
            ModelConfig::Bert(c) | ModelConfig::Mpnet(c) | ModelConfig::Roberta(c) => c.max_position_embeddings,
            ModelConfig::ModernBert(c) => c.max_position_embeddings,
        }
    }

    /// The most tokens one text may have: the position table's length, less the rows that
    /// RoBERTa-style families skip (their positions start after the padding index).
    pub fn max_tokens(&self) -> usize {
        match self {
            ModelConfig::Bert(c) => c.max_position_embeddings,
            ModelConfig::Mpnet(c) | ModelConfig::Roberta(c) => {
                c.max_position_embeddings.saturating_sub(c.position_offset())
            }
            ModelConfig::ModernBert(c) => c.max_position_embeddings,
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
    /// The padding token's id: RoBERTa-style positions start right after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_token_id: Option<u32>,
    /// MPNet's relative position buckets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_attention_num_buckets: Option<usize>,
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
    /// The row of the position table the first token takes in RoBERTa-style families
    /// (`padding_idx + 1`, as `create_position_ids_from_input_ids` counts).
    pub fn position_offset(&self) -> usize {
        self.pad_token_id.unwrap_or(1) as usize + 1
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

/// `1_Pooling/config.json` as any sentence-transformers version writes it: 2.x-5.x one boolean
/// per mode (`pooling_mode_mean_tokens`), 6.x one `pooling_mode` (a name or a list of names).
#[derive(Debug, Deserialize)]
struct PoolingFile {
    word_embedding_dimension: Option<usize>,
    embedding_dimension: Option<usize>,
    pooling_mode: Option<PoolingModes>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "yes")]
    include_prompt: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PoolingModes {
    One(String),
    Many(Vec<String>),
}

/// The modes attune pools with, in the order sentence-transformers concatenates them.
const POOLING_ORDER: &[&str] = &["cls", "max", "mean", "mean_sqrt_len_tokens"];

impl PoolingFile {
    fn into_config(self, path: &Path, hidden: usize) -> Result<PoolingConfig> {
        let bad = |reason: String| {
            Err(Error::folder(
                path.parent().unwrap_or(path),
                format!("{}: {reason}", path.display()),
            ))
        };
        let modes: Vec<String> = match self.pooling_mode {
            Some(PoolingModes::One(m)) => vec![m],
            Some(PoolingModes::Many(v)) => v,
            None => {
                let legacy = [
                    (self.pooling_mode_cls_token, "cls"),
                    (self.pooling_mode_max_tokens, "max"),
                    (self.pooling_mode_mean_tokens, "mean"),
                    (self.pooling_mode_mean_sqrt_len_tokens, "mean_sqrt_len_tokens"),
                    (self.pooling_mode_weightedmean_tokens, "weightedmean"),
                    (self.pooling_mode_lasttoken, "lasttoken"),
                ];
                legacy
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, m)| m.to_string())
                    .collect()
            }
        };
        if modes.is_empty() {
            return bad("no pooling mode is on (set \"pooling_mode\", e.g. \"mean\")".into());
        }
        if let Some(m) = modes.iter().find(|m| !POOLING_ORDER.contains(&m.as_str())) {
            return bad(format!(
                "pooling mode {m:?} is not supported; attune pools with {}",
                POOLING_ORDER.join(", ")
            ));
        }
        let rank = |m: &String| POOLING_ORDER.iter().position(|o| o == m);
        if !modes.windows(2).all(|w| rank(&w[0]) < rank(&w[1])) {
            return bad(format!(
                "pooling modes {modes:?}: attune concatenates them only in the order {}",
                POOLING_ORDER.join(", ")
            ));
        }
        if !self.include_prompt {
            return bad("include_prompt false (prompt tokens left out of pooling) is not supported yet".into());
        }
        let on = |name: &str| modes.iter().any(|m| m == name);
        Ok(PoolingConfig {
            word_embedding_dimension: self
                .embedding_dimension
                .or(self.word_embedding_dimension)
                .unwrap_or(hidden),
            pooling_mode_cls_token: on("cls"),
            pooling_mode_mean_tokens: on("mean"),
            pooling_mode_max_tokens: on("max"),
            pooling_mode_mean_sqrt_len_tokens: on("mean_sqrt_len_tokens"),
        })
    }
}

/// What the sentence-transformers files of a folder say, with sentence-transformers' defaults
/// for a plain Hugging Face folder (mean pooling, no normalisation).
#[derive(Debug, Clone)]
pub struct SentenceConfig {
    pub pooling: PoolingConfig,
    pub normalize: bool,
    /// The token limit the folder sets: `max_seq_length` in `sentence_bert_config.json`
    /// (2.x-5.x), else `model_max_length` in `tokenizer_config.json` (6.x, and plain folders).
    pub max_seq_length: Option<usize>,
    /// `do_lower_case` in `sentence_bert_config.json`: texts are lowercased before tokenising.
    pub lowercase: bool,
    /// The prompt sentence-transformers puts before every text (`default_prompt_name`).
    pub default_prompt: Option<String>,
    /// Whether the folder had `modules.json` (a sentence-transformers folder).
    pub has_modules: bool,
    /// `tokenizer_class` in `tokenizer_config.json` (transformers rebuilds some classes' pipelines).
    pub tokenizer_class: Option<String>,
}

impl SentenceConfig {
    /// Whether transformers rebuilds this tokenizer as XLM-R's, splitting on whitespace first.
    pub fn xlmr_tokenizer(&self) -> bool {
        self.tokenizer_class
            .as_deref()
            .is_some_and(|c| c.trim_end_matches("Fast") == "XLMRobertaTokenizer")
    }
}

/// The names `sentence_bert_config.json` had in older sentence-transformers versions, which
/// still read them in this order.
const SBERT_CONFIGS: &[&str] = &[
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_albert_config.json",
    "sentence_xlm-roberta_config.json",
    "sentence_xlnet_config.json",
];

/// Model limits above this are tokenizers' "no limit" placeholders (`1e30`), not limits.
const NO_LIMIT: f64 = 1e9;

impl SentenceConfig {
    pub fn from_dir(dir: &Path, hidden_size: usize) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        let mut cfg = SentenceConfig {
            pooling: PoolingConfig::mean(hidden_size),
            normalize: false,
            max_seq_length: None,
            lowercase: false,
            default_prompt: None,
            has_modules: false,
            tokenizer_class: None,
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
                        let file: PoolingFile = read_json(&p)?;
                        cfg.pooling = file.into_config(&p, hidden_size)?;
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
        #[derive(Deserialize)]
        struct Sbert {
            max_seq_length: Option<usize>,
            #[serde(default)]
            do_lower_case: bool,
        }
        if let Some(path) = SBERT_CONFIGS.iter().map(|f| dir.join(f)).find(|p| p.exists()) {
            let s: Sbert = read_json(&path)?;
            cfg.max_seq_length = s.max_seq_length;
            cfg.lowercase = s.do_lower_case;
        }
        let tokenizer = tokenizer_config(dir)?;
        if cfg.max_seq_length.is_none() {
            cfg.max_seq_length = tokenizer
                .model_max_length
                .filter(|n| *n >= 1.0 && *n < NO_LIMIT)
                .map(|n| n as usize);
        }
        cfg.tokenizer_class = tokenizer.tokenizer_class;
        cfg.default_prompt = default_prompt(dir)?;
        Ok(cfg)
    }
}

/// What attune reads of `tokenizer_config.json` (everything when it is absent).
#[derive(Debug, Default, Deserialize)]
struct TokenizerConfig {
    /// Where sentence-transformers 6.x keeps the token limit; may be a "no limit" placeholder.
    model_max_length: Option<f64>,
    tokenizer_class: Option<String>,
}

fn tokenizer_config(dir: &Path) -> Result<TokenizerConfig> {
    let path = dir.join("tokenizer_config.json");
    if !path.exists() {
        return Ok(TokenizerConfig::default());
    }
    read_json(&path)
}

/// The prompt `config_sentence_transformers.json` names as the default, if any.
fn default_prompt(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("config_sentence_transformers.json");
    if !path.exists() {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct StConfig {
        #[serde(default)]
        prompts: std::collections::HashMap<String, String>,
        default_prompt_name: Option<String>,
    }
    let c: StConfig = read_json(&path)?;
    let Some(name) = c.default_prompt_name else {
        return Ok(None);
    };
    match c.prompts.get(&name) {
        Some(p) if !p.is_empty() => Ok(Some(p.clone())),
        Some(_) => Ok(None),
        None => Err(Error::folder(
            dir,
            format!("config_sentence_transformers.json: default_prompt_name {name:?} is not one of its prompts"),
        )),
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
