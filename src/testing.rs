//! Small models made on the spot for tests and examples: a tiny random BERT with a real
//! WordPiece tokenizer, written as a complete sentence-transformers folder.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::Tokenizer;

use crate::encoder::config::{BertConfig, PoolingConfig};
use crate::error::{Error, Result};

/// Hyper-parameters of the tiny model.
#[derive(Debug, Clone)]
pub struct TinySpec {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_seq_length: usize,
    pub normalize: bool,
    pub seed: u64,
    /// Dropout of the hidden states and of the attention probabilities.
    pub dropout: f64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            hidden: 16,
            layers: 2,
            heads: 4,
            intermediate: 32,
            max_seq_length: 24,
            normalize: true,
            seed: 1,
            dropout: 0.1,
        }
    }
}

/// Words in the tiny vocabulary besides single letters and their `##` continuations.
const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "from",
    "flight",
    "fare",
    "cheap",
    "show",
    "me",
    "boston",
    "denver",
    "bus",
    "taxi",
    "airport",
    "card",
    "payment",
    "refund",
    "account",
    "password",
    "reset",
    "what",
    "is",
    "how",
    "do",
    "i",
    "my",
    "which",
    "airline",
    "ground",
    "transport",
    "price",
    "cost",
    "ticket",
];

fn vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(('a'..='z').map(|c| c.to_string()));
    v.extend(('a'..='z').map(|c| format!("##{c}")));
    v.extend(('0'..='9').map(|c| c.to_string()));
    v.extend(('0'..='9').map(|c| format!("##{c}")));
    v.extend([".", ",", "?", "!", "'"].iter().map(|s| s.to_string()));
    v.extend(WORDS.iter().map(|s| s.to_string()));
    v
}

/// Writes a tiny random BERT sentence-embedding model to `dir` (which must exist).
pub fn write_tiny_model(dir: &Path, spec: &TinySpec) -> Result<()> {
    let vocab = vocab();
    let cfg = BertConfig {
        model_type: "bert".into(),
        vocab_size: vocab.len(),
        hidden_size: spec.hidden,
        num_hidden_layers: spec.layers,
        num_attention_heads: spec.heads,
        intermediate_size: spec.intermediate,
        hidden_act: crate::encoder::config::Activation::Gelu,
        hidden_dropout_prob: spec.dropout,
        attention_probs_dropout_prob: spec.dropout,
        max_position_embeddings: 64,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        position_embedding_type: None,
        pad_token_id: None,
        relative_attention_num_buckets: None,
    };
    let json = |v: &serde_json::Value, name: &str| -> Result<()> {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&p, serde_json::to_string_pretty(v).unwrap_or_default()).map_err(|e| Error::io(&p, e))
    };
    json(&serde_json::to_value(&cfg).unwrap_or_default(), "config.json")?;
    let mut modules = vec![
        serde_json::json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        serde_json::json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if spec.normalize {
        modules.push(
            serde_json::json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}),
        );
    }
    json(&serde_json::Value::Array(modules), "modules.json")?;
    json(
        &serde_json::to_value(PoolingConfig::mean(spec.hidden)).unwrap_or_default(),
        "1_Pooling/config.json",
    )?;
    json(
        &serde_json::json!({"max_seq_length": spec.max_seq_length, "do_lower_case": false}),
        "sentence_bert_config.json",
    )?;
    write_tokenizer(dir, &vocab)?;
    let tensors = random_weights(&cfg, spec.seed)?;
    crate::encoder::weights::save_safetensors(&tensors, &dir.join("model.safetensors"))
}

fn write_tokenizer(dir: &Path, vocab: &[String]) -> Result<()> {
    let path = dir.join("tokenizer.json");
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| Error::Tokenizer {
        path: path.clone(),
        reason: e.to_string(),
    };
    let vocab_txt = dir.join("vocab.txt");
    std::fs::write(&vocab_txt, vocab.join("\n") + "\n").map_err(|e| Error::io(&vocab_txt, e))?;
    let wp = WordPiece::from_file(&vocab_txt.to_string_lossy())
        .unk_token("[UNK]".into())
        .build()
        .map_err(bad)?;
    let mut tok = Tokenizer::new(wp);
    tok.with_normalizer(Some(BertNormalizer::default())).map_err(bad)?;
    tok.with_pre_tokenizer(Some(BertPreTokenizer));
    let post = TemplateProcessing::builder()
        .try_single("[CLS] $A [SEP]")
        .map_err(|e| bad(e.into()))?
        .special_tokens(vec![("[CLS]", 2), ("[SEP]", 3)])
        .build()
        .map_err(|e| bad(Box::new(e)))?;
    tok.with_post_processor(Some(post));
    tok.save(&path, false).map_err(bad)
}

fn random_weights(cfg: &BertConfig, seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = HashMap::new();
    let mut put = |name: String, shape: Vec<usize>, center: f32, scale: f32| -> Result<()> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| center + scale * (rng.gen::<f32>() * 2.0 - 1.0))
            .collect();
        out.insert(name, Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(DType::F32)?);
        Ok(())
    };
    let h = cfg.hidden_size;
    put(
        "embeddings.word_embeddings.weight".into(),
        vec![cfg.vocab_size, h],
        0.0,
        0.5,
    )?;
    put(
        "embeddings.position_embeddings.weight".into(),
        vec![cfg.max_position_embeddings, h],
        0.0,
        0.1,
    )?;
    put(
        "embeddings.token_type_embeddings.weight".into(),
        vec![cfg.type_vocab_size, h],
        0.0,
        0.1,
    )?;
    put("embeddings.LayerNorm.weight".into(), vec![h], 1.0, 0.1)?;
    put("embeddings.LayerNorm.bias".into(), vec![h], 0.0, 0.1)?;
    for i in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{i}");
        let lin =
            |put: &mut dyn FnMut(String, Vec<usize>, f32, f32) -> Result<()>, name: &str, o: usize, inp: usize| {
                put(format!("{p}.{name}.weight"), vec![o, inp], 0.0, 0.3)?;
                put(format!("{p}.{name}.bias"), vec![o], 0.0, 0.1)
            };
        lin(&mut put, "attention.self.query", h, h)?;
        lin(&mut put, "attention.self.key", h, h)?;
        lin(&mut put, "attention.self.value", h, h)?;
        lin(&mut put, "attention.output.dense", h, h)?;
        lin(&mut put, "intermediate.dense", cfg.intermediate_size, h)?;
        lin(&mut put, "output.dense", h, cfg.intermediate_size)?;
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(format!("{p}.{ln}.weight"), vec![h], 1.0, 0.1)?;
            put(format!("{p}.{ln}.bias"), vec![h], 0.0, 0.1)?;
        }
    }
    // A pooler, as real checkpoints have: not used, but must survive a save.
    put("pooler.dense.weight".into(), vec![h, h], 0.0, 0.3)?;
    put("pooler.dense.bias".into(), vec![h], 0.0, 0.1)?;
    Ok(out)
}
