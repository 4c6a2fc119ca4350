//! BERT (and the sentence-transformers models built on it, such as all-MiniLM-L6-v2), written on
//! candle primitives so that it trains. Tensor names mirror Hugging Face's checkpoints.

use candle_core::Tensor;

use super::config::{Activation, BertConfig};
use super::layers::{dropout, w, LayerNorm, Linear};
use super::mode::ForwardMode;
use super::tokenize::TokenBatch;
use super::weights::Weights;
use super::word_rows::{Capture, WORD_TABLE};
use crate::error::Result;
use crate::kernels;

#[derive(Debug, Clone)]
struct Embeddings {
    word: Tensor,
    /// Training forwards record their word rows here when the trainer asks for row gradients.
    pub(crate) capture: Capture,
    position: Tensor,
    token_type: Tensor,
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
}

impl Bert {
    pub(crate) fn capture(&self) -> &Capture {
        &self.embeddings.capture
    }
}

fn linear(ws: &mut Weights, name: &str, out: usize, inp: usize) -> Result<Linear> {
    Ok(Linear {
        weight: ws.var(&format!("{name}.weight"), &[out, inp])?,
        bias: Some(ws.var(&format!("{name}.bias"), &[out])?),
    })
}

fn layer_norm(ws: &mut Weights, name: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm {
        weight: ws.var(&format!("{name}.weight"), &[dim])?,
        bias: ws.var(&format!("{name}.bias"), &[dim])?,
        eps,
    })
}

impl Bert {
    pub fn load(cfg: &BertConfig, ws: &mut Weights) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let embeddings = Embeddings {
            word: ws.var(WORD_TABLE, &[cfg.vocab_size, h])?,
            capture: Capture::default(),
            position: ws.var(
                "embeddings.position_embeddings.weight",
                &[cfg.max_position_embeddings, h],
            )?,
            token_type: ws.var("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, h])?,
            norm: layer_norm(ws, "embeddings.LayerNorm", h, eps)?,
            dropout: cfg.hidden_dropout_prob,
        };
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    attention: Attention {
                        query: linear(ws, &format!("{p}.attention.self.query"), h, h)?,
                        key: linear(ws, &format!("{p}.attention.self.key"), h, h)?,
                        value: linear(ws, &format!("{p}.attention.self.value"), h, h)?,
                        output: linear(ws, &format!("{p}.attention.output.dense"), h, h)?,
                        norm: layer_norm(ws, &format!("{p}.attention.output.LayerNorm"), h, eps)?,
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
        Ok(Bert { embeddings, layers })
    }

    /// Token states of shape (batch, seq, hidden).
    pub fn forward(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        let mut x = self.embeddings.forward(batch, mode)?;
        // Additive mask: 0 where a token is real, a large negative where it is padding.
        let mask = batch.mask.to_dtype(x.dtype())?;
        let bias = ((mask - 1.0)? * 1e9)?;
        for layer in &self.layers {
            x = layer.attention.forward(&x, &bias, mode)?;
            x = layer.ffn.forward(&x, mode)?;
        }
        Ok(x)
    }
}

impl Embeddings {
    fn forward(&self, batch: &TokenBatch, mode: &mut ForwardMode) -> Result<Tensor> {
        let (b, t) = batch.ids.dims2()?;
        let h = self.word.dim(1)?;
        let ids = batch.ids.flatten_all()?;
        let types = batch.type_ids.flatten_all()?;
        let captured = match mode {
            ForwardMode::Train(_) => self.capture.lookup(&self.word, &ids)?,
            _ => None,
        };
        let words = match captured {
            Some(rows) => rows,
            None => w(&self.word, mode).index_select(&ids, 0)?,
        }
        .reshape((b, t, h))?;
        let types = w(&self.token_type, mode).index_select(&types, 0)?.reshape((b, t, h))?;
        let pos = w(&self.position, mode).narrow(0, 0, t)?.unsqueeze(0)?;
        let x = words.add(&types)?.broadcast_add(&pos)?;
        let x = self.norm.forward(&x, mode)?;
        dropout(&x, self.dropout, mode)
    }
}

impl Attention {
    fn forward(&self, x: &Tensor, bias: &Tensor, mode: &mut ForwardMode) -> Result<Tensor> {
        let (b, t, h) = x.dims3()?;
        let split = |y: Tensor| -> Result<Tensor> {
            Ok(y.reshape((b, t, self.heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(self.query.forward(x, mode)?)?;
        let k = split(self.key.forward(x, mode)?)?;
        let v = split(self.value.forward(x, mode)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let probs = kernels::masked_softmax(&q.matmul(&k.t()?)?, bias, scale)?;
        let probs = dropout(&probs, self.attn_dropout, mode)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, t, h))?;
        let out = self.output.forward(&ctx, mode)?;
        let out = dropout(&out, self.hidden_dropout, mode)?;
        self.norm.forward(&out.add(x)?, mode)
    }
}

impl FeedForward {
    fn forward(&self, x: &Tensor, mode: &mut ForwardMode) -> Result<Tensor> {
        let y = self.intermediate.forward(x, mode)?;
        let y = match self.act {
            Activation::Gelu => kernels::gelu_erf(&y)?,
            Activation::GeluTanh => y.gelu()?,
            Activation::Relu => y.relu()?,
        };
        let y = self.output.forward(&y, mode)?;
        let y = dropout(&y, self.dropout, mode)?;
        self.norm.forward(&y.add(x)?, mode)
    }
}
