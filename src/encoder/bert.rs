//! BERT (and the sentence-transformers models built on it, such as all-MiniLM-L6-v2), written on
//! candle primitives so that it trains. Tensor names mirror Hugging Face's checkpoints. MPNet and
//! (XLM-)RoBERTa share these layers; what differs ([`Layout`]) is named by their own files.

use candle_core::Tensor;

use super::config::{Activation, BertConfig};
use super::layers::{dropout, w, LayerNorm, Linear};
use super::mode::ForwardMode;
use super::packing::Grid;
use super::tokenize::TokenBatch;
use super::weights::Weights;
use super::word_rows::{Capture, WORD_TABLE};
use crate::error::Result;
use crate::kernels;

/// What a BERT-shaped family names differently and where its positions start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Under `encoder.layer.{i}.`: query, key, value, output projection, attention norm.
    pub attention: [&'static str; 5],
    /// Whether the checkpoint has a token-type table (MPNet has none).
    pub token_types: bool,
    /// The row of the position table the first token takes.
    pub position_offset: usize,
}

impl Layout {
    pub const BERT: Layout = Layout {
        attention: [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
        ],
        token_types: true,
        position_offset: 0,
    };
}

/// A bias added to every layer's attention scores, shape (1, heads, seq, seq), made per
/// sequence length (MPNet's relative positions).
pub(crate) trait ScoreBias: std::fmt::Debug + Send + Sync {
    fn bias(&self, seq: usize, mode: &ForwardMode) -> Result<Tensor>;
}

#[derive(Debug, Clone)]
struct Embeddings {
    word: Tensor,
    /// Training forwards record their word rows here when the trainer asks for row gradients.
    pub(crate) capture: Capture,
    position: Tensor,
    position_offset: usize,
    token_type: Option<Tensor>,
    norm: LayerNorm,
    dropout: f64,
}

#[derive(Debug, Clone)]
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm: LayerNorm,
    heads: usize,
    head_dim: usize,
    attn_dropout: f64,
    hidden_dropout: f64,
}

#[derive(Debug, Clone)]
struct FeedForward {
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
    act: Activation,
    dropout: f64,
}

#[derive(Debug, Clone)]
struct Layer {
    attention: Attention,
    ffn: FeedForward,
}

/// A BERT encoder: embeddings and a stack of transformer layers, without a pooler (sentence
/// embeddings pool the token states instead).
#[derive(Debug, Clone)]
pub struct Bert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    score_bias: Option<std::sync::Arc<dyn ScoreBias>>,
}

impl Bert {
    pub(crate) fn capture(&self) -> &Capture {
        &self.embeddings.capture
    }

    /// Every linear layer, for switching their inference precision.
    pub(crate) fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let mut out = Vec::with_capacity(6 * self.layers.len());
        for l in &mut self.layers {
            let a = &mut l.attention;
            out.extend([&mut a.query, &mut a.key, &mut a.value, &mut a.output]);
            out.extend([&mut l.ffn.intermediate, &mut l.ffn.output]);
        }
        out
    }

    pub(crate) fn linears(&self) -> Vec<&Linear> {
        let mut out = Vec::with_capacity(6 * self.layers.len());
        for l in &self.layers {
            let a = &l.attention;
            out.extend([&a.query, &a.key, &a.value, &a.output]);
            out.extend([&l.ffn.intermediate, &l.ffn.output]);
        }
        out
    }
}

pub(crate) fn linear(ws: &mut Weights, name: &str, out: usize, inp: usize) -> Result<Linear> {
    Ok(Linear::new(
        ws.var(&format!("{name}.weight"), &[out, inp])?,
        Some(ws.var(&format!("{name}.bias"), &[out])?),
    ))
}

pub(crate) fn layer_norm(ws: &mut Weights, name: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm {
        weight: ws.var(&format!("{name}.weight"), &[dim])?,
        bias: ws.var(&format!("{name}.bias"), &[dim])?,
        eps,
    })
}

impl Bert {
    pub fn load(cfg: &BertConfig, ws: &mut Weights) -> Result<Self> {
        Self::load_as(cfg, ws, &Layout::BERT)
    }

    /// Loads a BERT-shaped family whose checkpoint follows `layout`.
    pub(crate) fn load_as(cfg: &BertConfig, ws: &mut Weights, layout: &Layout) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let embeddings = Embeddings {
            word: ws.var(WORD_TABLE, &[cfg.vocab_size, h])?,
            capture: Capture::default(),
            position: ws.var(
                "embeddings.position_embeddings.weight",
                &[cfg.max_position_embeddings, h],
            )?,
            position_offset: layout.position_offset,
            token_type: match layout.token_types {
                true => Some(ws.var("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, h])?),
                false => None,
            },
            norm: layer_norm(ws, "embeddings.LayerNorm", h, eps)?,
            dropout: cfg.hidden_dropout_prob,
        };
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                let [q, k, v, o, norm] = layout.attention;
                Ok(Layer {
                    attention: Attention {
                        query: linear(ws, &format!("{p}.{q}"), h, h)?,
                        key: linear(ws, &format!("{p}.{k}"), h, h)?,
                        value: linear(ws, &format!("{p}.{v}"), h, h)?,
                        output: linear(ws, &format!("{p}.{o}"), h, h)?,
                        norm: layer_norm(ws, &format!("{p}.{norm}"), h, eps)?,
                        heads: cfg.num_attention_heads,
                        head_dim: h / cfg.num_attention_heads,
                        attn_dropout: cfg.attention_probs_dropout_prob,
                        hidden_dropout: cfg.hidden_dropout_prob,
                    },
                    ffn: FeedForward {
                        intermediate: linear(ws, &format!("{p}.intermediate.dense"), cfg.intermediate_size, h)?,
                        output: linear(ws, &format!("{p}.output.dense"), h, cfg.intermediate_size)?,
                        norm: layer_norm(ws, &format!("{p}.output.LayerNorm"), h, eps)?,
                        act: cfg.hidden_act,
                        dropout: cfg.hidden_dropout_prob,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            embeddings,
            layers,
            score_bias: None,
        })
    }

    /// Adds `bias` to every layer's attention scores.
    pub(crate) fn with_score_bias(mut self, bias: std::sync::Arc<dyn ScoreBias>) -> Self {
        self.score_bias = Some(bias);
        self
    }

    /// Token states of shape (batch, seq, hidden). Inference passes with the fused kernels on
    /// skip the padding ([`Grid`]): their padding rows are zeros.
    pub fn forward(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        let x = self.embeddings.forward(batch, mode)?;
        // Additive mask: 0 where a token is real, a large negative where it is padding.
        let mask = batch.mask.to_dtype(x.dtype())?;
        let bias = ((mask - 1.0)? * 1e9)?;
        let scores = match &self.score_bias {
            Some(b) => Some(b.bias(batch.ids.dim(1)?, mode)?.to_dtype(x.dtype())?),
            None => None,
        };
        let (grid, mut x) = Grid::enter(&batch.mask, x, mode)?;
        for layer in &self.layers {
            x = layer.attention.forward(&x, &bias, scores.as_ref(), &grid, mode)?;
            x = layer.ffn.forward(&x, mode)?;
        }
        grid.leave(x)
    }
}

impl Embeddings {
    fn forward(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        let (b, t) = batch.ids.dims2()?;
        let h = self.word.dim(1)?;
        let types = batch.type_ids.flatten_all()?;
        let words = self.capture.words(&self.word, &batch.ids, mode)?;
        let pos = w(&self.position, mode)
            .narrow(0, self.position_offset, t)?
            .unsqueeze(0)?;
        let x = match &self.token_type {
            Some(table) => words.add(&w(table, mode).index_select(&types, 0)?.reshape((b, t, h))?)?,
            None => words,
        };
        let x = x.broadcast_add(&pos)?;
        let x = self.norm.forward(&x, mode)?;
        dropout(&x, self.dropout, mode)
    }
}

impl Attention {
    fn forward(
        &self,
        x: &Tensor,
        bias: &Tensor,
        scores: Option<&Tensor>,
        grid: &Grid,
        mode: &mut ForwardMode,
    ) -> Result<Tensor> {
        let split = |y: Tensor| grid.split_heads(&y, self.heads);
        let q = split(self.query.forward(x, mode)?)?;
        let k = split(self.key.forward(x, mode)?)?;
        let v = split(self.value.forward(x, mode)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let probs = match scores {
            // The extra bias is added after scaling, as MPNet does.
            Some(extra) => kernels::masked_softmax(&(q.matmul(&k.t()?)? * scale)?.broadcast_add(extra)?, bias, 1.0)?,
            None => kernels::masked_softmax(&q.matmul(&k.t()?)?, bias, scale)?,
        };
        let probs = dropout(&probs, self.attn_dropout, mode)?;
        let ctx = grid.merge_heads(&probs.matmul(&v)?)?;
        if mode.is_inference() {
            return self.output.forward_add_norm(&ctx, x, &self.norm, mode);
        }
        let out = self.output.forward(&ctx, mode)?;
        let out = dropout(&out, self.hidden_dropout, mode)?;
        self.norm.forward(&out.add(x)?, mode)
    }
}

impl FeedForward {
    fn forward(&self, x: &Tensor, mode: &mut ForwardMode) -> Result<Tensor> {
        let y = match self.act {
            Activation::Gelu => self.intermediate.forward_gelu(x, mode)?,
            Activation::GeluTanh => self.intermediate.forward(x, mode)?.gelu()?,
            Activation::Relu => self.intermediate.forward(x, mode)?.relu()?,
        };
        if mode.is_inference() {
            return self.output.forward_add_norm(&y, x, &self.norm, mode);
        }
        let y = self.output.forward(&y, mode)?;
        let y = dropout(&y, self.dropout, mode)?;
        self.norm.forward(&y.add(x)?, mode)
    }
}
