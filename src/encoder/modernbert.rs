//! ModernBERT (answerdotai/ModernBERT and the embedding models built on it, 8k tokens): rotary
//! position embeddings, a gated GELU feed-forward, pre-norm layers without biases, and attention
//! that alternates between a sliding local window and the whole text. Written on candle
//! primitives and attune's kernels so that every weight trains; names mirror Hugging Face's.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::bert::{layer_norm, linear};
use super::config::Activation;
use super::layers::{dropout, LayerNorm, Linear};
use super::mode::ForwardMode;
use super::packing::Grid;
use super::tokenize::TokenBatch;
use super::weights::Weights;
use super::word_rows::Capture;
use crate::error::{Error, Result};
use crate::kernels;

/// The word table's name in a ModernBERT checkpoint.
pub const WORD_TABLE: &str = "embeddings.tok_embeddings.weight";

/// One rotary setting, as `rope_parameters` holds it per attention type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RopeParameters {
    #[serde(default = "default_rope_type")]
    pub rope_type: String,
    pub rope_theta: Option<f64>,
}

fn default_rope_type() -> String {
    "default".into()
}

/// ModernBERT hyper-parameters, with `config.json`'s names. Both the transformers 4.x form
/// (`global_attn_every_n_layers`, `global_rope_theta`, `local_rope_theta`) and the 5.x form
/// (`layer_types`, `rope_parameters`) are read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModernBertConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "default_act")]
    pub hidden_activation: Activation,
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_norm_eps")]
    pub norm_eps: f64,
    #[serde(default)]
    pub norm_bias: bool,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default)]
    pub attention_dropout: f64,
    #[serde(default)]
    pub embedding_dropout: f64,
    #[serde(default)]
    pub mlp_dropout: f64,
    #[serde(default = "default_local")]
    pub local_attention: usize,
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    #[serde(default)]
    pub global_attn_every_n_layers: Option<usize>,
    #[serde(default)]
    pub rope_parameters: Option<std::collections::HashMap<String, RopeParameters>>,
    #[serde(default)]
    pub global_rope_theta: Option<f64>,
    #[serde(default)]
    pub local_rope_theta: Option<f64>,
}

fn default_act() -> Activation {
    Activation::Gelu
}
fn default_max_pos() -> usize {
    8192
}
fn default_norm_eps() -> f64 {
    1e-5
}
fn default_local() -> usize {
    128
}

const FULL: &str = "full_attention";
const SLIDING: &str = "sliding_attention";

impl ModernBertConfig {
    /// Whether each layer attends to a sliding window (else to the whole text).
    pub fn sliding(&self) -> Vec<bool> {
        match &self.layer_types {
            Some(types) => types.iter().map(|t| t == SLIDING).collect(),
            None => {
                let every = self.global_attn_every_n_layers.unwrap_or(3).max(1);
                (0..self.num_hidden_layers).map(|i| i % every != 0).collect()
            }
        }
    }

    /// The rotary base of full (`sliding == false`) or sliding-window layers.
    pub fn rope_theta(&self, sliding: bool) -> f64 {
        let (key, old, default) = match sliding {
            true => (SLIDING, self.local_rope_theta, 10_000.0),
            false => (FULL, self.global_rope_theta, 160_000.0),
        };
        self.rope_parameters
            .as_ref()
            .and_then(|p| p.get(key))
            .and_then(|p| p.rope_theta)
            .or(old)
            .unwrap_or(default)
    }

    pub(crate) fn validate(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::folder(path.parent().unwrap_or(path), reason));
        let head_dim = self.hidden_size / self.num_attention_heads.max(1);
        if !head_dim.is_multiple_of(2) {
            return bad(format!(
                "config.json: the head size {head_dim} must be even for rotary embeddings"
            ));
        }
        if let Some(types) = &self.layer_types {
            if types.len() != self.num_hidden_layers {
                return bad(format!(
                    "config.json: layer_types has {} entries for {} layers",
                    types.len(),
                    self.num_hidden_layers
                ));
            }
            if let Some(t) = types.iter().find(|t| *t != FULL && *t != SLIDING) {
                return bad(format!("config.json: layer type {t:?} is not {FULL:?} or {SLIDING:?}"));
            }
        }
        for (kind, p) in self.rope_parameters.iter().flatten() {
            if p.rope_type != "default" {
                return bad(format!(
                    "config.json: rope_parameters.{kind}.rope_type {:?} is not supported (only \"default\")",
                    p.rope_type
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Layer {
    /// `None` in the first layer, whose input is the already-normed embeddings.
    attn_norm: Option<LayerNorm>,
    wqkv: Linear,
    wo: Linear,
    mlp_norm: LayerNorm,
    wi: Linear,
    mlp_wo: Linear,
    sliding: bool,
}

/// A ModernBERT encoder without its masked-language-model head.
#[derive(Debug, Clone)]
pub struct ModernBert {
    word: Tensor,
    capture: Capture,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    heads: usize,
    act: Activation,
    /// Half the local window: a token sees those within this distance.
    half_window: usize,
    theta: (f64, f64),
    dropouts: (f64, f64, f64),
}

fn norm(ws: &mut Weights, name: &str, dim: usize, cfg: &ModernBertConfig) -> Result<LayerNorm> {
    if cfg.norm_bias {
        return layer_norm(ws, name, dim, cfg.norm_eps);
    }
    let weight = ws.var(&format!("{name}.weight"), &[dim])?;
    // No bias in the checkpoint: a constant zero, never trained nor saved.
    let bias = Tensor::zeros(dim, weight.dtype(), weight.device())?;
    Ok(LayerNorm {
        weight,
        bias,
        eps: cfg.norm_eps,
    })
}

fn dense(ws: &mut Weights, name: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
    if bias {
        return linear(ws, name, out, inp);
    }
    Ok(Linear::new(ws.var(&format!("{name}.weight"), &[out, inp])?, None))
}

impl ModernBert {
    pub(crate) fn capture(&self) -> &Capture {
        &self.capture
    }

    /// Every linear layer, for switching their inference precision.
    pub(crate) fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let mut out = Vec::with_capacity(4 * self.layers.len());
        for l in &mut self.layers {
            out.extend([&mut l.wqkv, &mut l.wo, &mut l.wi, &mut l.mlp_wo]);
        }
        out
    }

    pub(crate) fn linears(&self) -> Vec<&Linear> {
        self.layers
            .iter()
            .flat_map(|l| [&l.wqkv, &l.wo, &l.wi, &l.mlp_wo])
            .collect()
    }

    pub fn load(cfg: &ModernBertConfig, ws: &mut Weights) -> Result<Self> {
        let h = cfg.hidden_size;
        let i = cfg.intermediate_size;
        let layers = cfg
            .sliding()
            .into_iter()
            .enumerate()
            .map(|(n, sliding)| {
                let p = format!("layers.{n}");
                Ok(Layer {
                    attn_norm: match n {
                        0 => None,
                        _ => Some(norm(ws, &format!("{p}.attn_norm"), h, cfg)?),
                    },
                    wqkv: dense(ws, &format!("{p}.attn.Wqkv"), 3 * h, h, cfg.attention_bias)?,
                    wo: dense(ws, &format!("{p}.attn.Wo"), h, h, cfg.attention_bias)?,
                    mlp_norm: norm(ws, &format!("{p}.mlp_norm"), h, cfg)?,
                    wi: dense(ws, &format!("{p}.mlp.Wi"), 2 * i, h, cfg.mlp_bias)?,
                    mlp_wo: dense(ws, &format!("{p}.mlp.Wo"), h, i, cfg.mlp_bias)?,
                    sliding,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ModernBert {
            word: ws.var(WORD_TABLE, &[cfg.vocab_size, h])?,
            capture: Capture::default(),
            embed_norm: norm(ws, "embeddings.norm", h, cfg)?,
            layers,
            final_norm: norm(ws, "final_norm", h, cfg)?,
            heads: cfg.num_attention_heads,
            act: cfg.hidden_activation,
            half_window: cfg.local_attention / 2,
            theta: (cfg.rope_theta(false), cfg.rope_theta(true)),
            dropouts: (cfg.embedding_dropout, cfg.attention_dropout, cfg.mlp_dropout),
        })
    }

    /// Token states of shape (batch, seq, hidden). Inference passes with the fused kernels on
    /// skip the padding ([`Grid`]): their padding rows are zeros.
    pub fn forward(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        let t = batch.ids.dim(1)?;
        let h = self.word.dim(1)?;
        let words = self.capture.words(&self.word, &batch.ids, mode)?;
        let mut x = self.embed_norm.forward(&words, mode)?;
        x = dropout(&x, self.dropouts.0, mode)?;
        let dtype = x.dtype();
        let device = x.device().clone();
        let pad = ((batch.mask.to_dtype(dtype)? - 1.0)? * 1e9)?;
        let head_dim = h / self.heads;
        let full = Rotary::new(self.theta.0, head_dim, t, dtype, &device)?;
        let local = Rotary::new(self.theta.1, head_dim, t, dtype, &device)?;
        let window = window_bias(t, self.half_window, dtype, &device)?;
        let (grid, mut x) = Grid::enter(&batch.mask, x, mode)?;
        for layer in &self.layers {
            let (rope, extra) = match layer.sliding {
                true => (&local, Some(&window)),
                false => (&full, None),
            };
            x = self.layer(layer, &x, &pad, (rope, extra), &grid, mode)?;
        }
        grid.leave(self.final_norm.forward(&x, mode)?)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        pad: &Tensor,
        (rope, window): (&Rotary, Option<&Tensor>),
        grid: &Grid,
        mode: &mut ForwardMode,
    ) -> Result<Tensor> {
        // `x` is (batch, seq, hidden), or the real tokens' rows (tokens, hidden): see `grid`.
        let h = self.word.dim(1)?;
        let d = h / self.heads;
        let normed = match &layer.attn_norm {
            Some(n) => n.forward(x, mode)?,
            None => x.clone(),
        };
        let qkv = layer.wqkv.forward(&normed, mode)?;
        let part = |i: usize| grid.split_heads_of(&qkv, i * h, h, self.heads);
        let q = rope.apply(&part(0)?)?;
        let k = rope.apply(&part(1)?)?;
        let v = part(2)?;
        let mut scores = (q.matmul(&k.t()?)? * (1.0 / (d as f64).sqrt()))?;
        if let Some(w) = window {
            scores = scores.broadcast_add(w)?;
        }
        let probs = kernels::masked_softmax(&scores, pad, 1.0)?;
        let probs = dropout(&probs, self.dropouts.1, mode)?;
        let ctx = grid.merge_heads(&probs.matmul(&v)?)?;
        let out = dropout(&layer.wo.forward(&ctx, mode)?, self.dropouts.1, mode)?;
        let x = x.add(&out)?;
        let y = layer.wi.forward(&layer.mlp_norm.forward(&x, mode)?, mode)?;
        let last = y.rank() - 1;
        let inner = y.dim(last)? / 2;
        let input = y.narrow(last, 0, inner)?;
        let gate = y.narrow(last, inner, inner)?;
        let act = match self.act {
            Activation::Gelu => kernels::gelu_erf(&input)?,
            Activation::GeluTanh => input.gelu()?,
            Activation::Relu => input.relu()?,
        };
        let y = dropout(&act.mul(&gate)?, self.dropouts.2, mode)?;
        Ok(x.add(&layer.mlp_wo.forward(&y, mode)?)?)
    }
}

/// Rotary tables for one base and length: `cos` and `sin` of shape (seq, head_dim).
struct Rotary {
    cos: Tensor,
    sin: Tensor,
}

impl Rotary {
    fn new(theta: f64, dim: usize, seq: usize, dtype: DType, device: &Device) -> Result<Self> {
        let half = dim / 2;
        // Inverse frequencies in f32, as transformers computes them.
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(seq * dim);
        let mut sin = Vec::with_capacity(seq * dim);
        for p in 0..seq {
            for j in 0..dim {
                let angle = p as f32 * inv[j % half];
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Ok(Rotary {
            cos: Tensor::from_vec(cos, (seq, dim), device)?.to_dtype(dtype)?,
            sin: Tensor::from_vec(sin, (seq, dim), device)?.to_dtype(dtype)?,
        })
    }

    /// `x * cos + rotate_half(x) * sin` for `x` of shape (batch, heads, seq, head_dim).
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let d = x.dim(3)?;
        let x1 = x.narrow(3, 0, d / 2)?;
        let x2 = x.narrow(3, d / 2, d / 2)?;
        let rotated = Tensor::cat(&[&x2.neg()?, &x1], 3)?;
        Ok(x.broadcast_mul(&self.cos)?.add(&rotated.broadcast_mul(&self.sin)?)?)
    }
}

/// 0 where a query may see a key (distance at most `half`), a large negative elsewhere.
fn window_bias(seq: usize, half: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let v: Vec<f32> = (0..seq)
        .flat_map(|q| (0..seq).map(move |k| if q.abs_diff(k) <= half { 0.0 } else { -1e9 }))
        .collect();
    Ok(Tensor::from_vec(v, (seq, seq), device)?.to_dtype(dtype)?)
}
