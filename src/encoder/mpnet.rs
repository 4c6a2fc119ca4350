//! MPNet (all-mpnet-base-v2, SetFit's recommended body): BERT's layers under other names,
//! no token types, RoBERTa-style positions, and a learned bias per relative-position bucket
//! added to every layer's attention scores (T5's bucketing, shared by all layers).

use std::sync::Arc;

use candle_core::Tensor;

use super::bert::{Bert, Layout, ScoreBias};
use super::config::BertConfig;
use super::layers::w;
use super::mode::ForwardMode;
use super::weights::Weights;
use crate::error::Result;

/// The distance past which buckets are logarithmic and then saturate, as MPNet fixes it.
const MAX_DISTANCE: i64 = 128;

/// The bucket count MPNet's `compute_position_bias` passes, whatever the table's size
/// (`relative_attention_num_buckets` only sizes the table).
const BUCKETS: i64 = 32;

const LAYOUT: Layout = Layout {
    attention: [
        "attention.attn.q",
        "attention.attn.k",
        "attention.attn.v",
        "attention.attn.o",
        "attention.LayerNorm",
    ],
    token_types: false,
    position_offset: 0,
};

pub fn load(cfg: &BertConfig, ws: &mut Weights) -> Result<Bert> {
    let buckets = cfg.relative_attention_num_buckets.unwrap_or(32);
    let table = ws.var(
        "encoder.relative_attention_bias.weight",
        &[buckets, cfg.num_attention_heads],
    )?;
    let layout = Layout {
        position_offset: cfg.position_offset(),
        ..LAYOUT
    };
    let bert = Bert::load_as(cfg, ws, &layout)?;
    Ok(bert.with_score_bias(Arc::new(RelativeBias { table })))
}

/// The learned bias table, (buckets, heads).
#[derive(Debug, Clone)]
struct RelativeBias {
    table: Tensor,
}

impl ScoreBias for RelativeBias {
    fn bias(&self, seq: usize, mode: &ForwardMode) -> Result<Tensor> {
        let ids: Vec<u32> = (0..seq as i64)
            .flat_map(|q| (0..seq as i64).map(move |k| (q, k)))
            .map(|(q, k)| bucket(k - q, BUCKETS) as u32)
            .collect();
        let ids = Tensor::from_vec(ids, seq * seq, self.table.device())?;
        let heads = self.table.dim(1)?;
        // (seq*seq, heads) -> (1, heads, seq, seq)
        Ok(w(&self.table, mode)
            .index_select(&ids, 0)?
            .reshape((seq, seq, heads))?
            .permute((2, 0, 1))?
            .unsqueeze(0)?
            .contiguous()?)
    }
}

/// MPNet's `relative_position_bucket` for `relative = key - query`: half the buckets for each
/// direction, exact below a quarter of the buckets, logarithmic up to [`MAX_DISTANCE`].
fn bucket(relative: i64, num_buckets: i64) -> i64 {
    let half = num_buckets / 2;
    let n = -relative;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        return ret + n;
    }
    // Computed in f32 and truncated, as PyTorch does.
    let large = max_exact
        + ((n as f32 / max_exact as f32).ln() / (MAX_DISTANCE as f32 / max_exact as f32).ln()
            * (half - max_exact) as f32) as i64;
    ret += large.min(half - 1);
    ret
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_match_mpnet() {
        // Values from transformers' MPNetEncoder.relative_position_bucket with 32 buckets.
        let cases = [
            (0, 0),
            (-1, 1),
            (1, 17),
            (-7, 7),
            (7, 23),
            (-8, 8),
            (-12, 9),
            (-20, 10),
            (-100, 15),
            (-500, 15),
            (500, 31),
        ];
        for (rel, want) in cases {
            assert_eq!(bucket(rel, 32), want, "relative position {rel}");
        }
    }
}
