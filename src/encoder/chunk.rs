//! Long texts in overlapping windows: a text longer than the model's window is split at token
//! level into windows of the model's `max_seq_length` (its special tokens included) that start
//! `stride` content tokens apart; each window is embedded and the windows' embeddings are pooled
//! (mean or max) into one vector, normalised again when the model normalises. A text that fits
//! is one window, the same tokens as truncation gives, so its embedding does not change.

use serde::{Deserialize, Serialize};

use super::Encoder;
use crate::error::{Error, Result};

/// What happens to a text longer than the model's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LongTextMode {
    /// Keep the first `max_seq_length` tokens (sentence-transformers' behaviour).
    #[default]
    Truncate,
    /// Embed every part in overlapping windows and pool them.
    Chunk,
}

/// How the windows of one text become one vector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChunkPool {
    #[default]
    Mean,
    Max,
}

/// The long-text setting of a call or a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongText {
    #[serde(default)]
    pub mode: LongTextMode,
    /// Content tokens from one window's start to the next's; `None` is three quarters of the
    /// window (a quarter of overlap).
    #[serde(default)]
    pub stride: Option<usize>,
    #[serde(default)]
    pub pool: ChunkPool,
}

impl LongText {
    pub fn chunk() -> Self {
        LongText {
            mode: LongTextMode::Chunk,
            ..Default::default()
        }
    }

    /// Checks the stride against a window of `window` content tokens.
    pub fn stride_for(&self, window: usize) -> Result<usize> {
        let w = window.max(1);
        match self.stride {
            None => Ok((w - w / 4).max(1)),
            Some(s) if s >= 1 && s <= w => Ok(s),
            Some(s) => Err(Error::InvalidArgument(format!(
                "--chunk-stride {s} must be between 1 and the model's window of {w} content tokens"
            ))),
        }
    }
}

/// Where each window of a text begins and ends, in content tokens (special tokens excluded):
/// one window when the text fits, else windows `stride` apart until one reaches the end.
pub fn window_bounds(n: usize, window: usize, stride: usize) -> Vec<(usize, usize)> {
    let (w, s) = (window.max(1), stride.max(1));
    if n <= w {
        return vec![(0, n)];
    }
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + w).min(n);
        out.push((start, end));
        if end == n {
            return out;
        }
        start += s;
    }
}

/// One window of one text: token ids ready for the model, and the byte span of the text it
/// covers (training samples windows as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub ids: Vec<u32>,
    pub span: (usize, usize),
}

impl Encoder {
    /// Content tokens one window holds: the model's length less its special tokens.
    pub fn window_tokens(&self) -> usize {
        self.max_seq_length()
            .saturating_sub(self.tokenizer.special_tokens())
            .max(1)
    }

    /// The windows of `text` under `long` (one window, as truncation, unless chunking).
    pub fn windows(&self, text: &str, long: &LongText) -> Result<Vec<Window>> {
        let w = self.window_tokens();
        let stride = long.stride_for(w)?;
        let (ids, offsets) = self.tokenizer.content_tokens(text)?;
        let bounds = match long.mode {
            LongTextMode::Truncate => vec![(0, ids.len().min(w))],
            LongTextMode::Chunk => window_bounds(ids.len(), w, stride),
        };
        Ok(bounds
            .into_iter()
            .map(|(a, b)| Window {
                ids: self.tokenizer.with_specials(&ids[a..b]),
                span: if a == b {
                    (0, text.len())
                } else {
                    (offsets[a].0, offsets[b - 1].1)
                },
            })
            .collect())
    }

    /// Embeds `texts` for inference; long ones as `long` says.
    pub fn embed_long(&self, texts: &[&str], batch_size: usize, long: &LongText) -> Result<Vec<Vec<f32>>> {
        if long.mode == LongTextMode::Truncate {
            return self.embed(texts, batch_size);
        }
        if batch_size == 0 {
            return Err(Error::InvalidArgument("batch size must be at least 1".into()));
        }
        let mut windows: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            windows.extend(self.windows(t, long)?.into_iter().map(|w| (i, w.ids)));
        }
        let embs = self.embed_ids(
            &windows.iter().map(|(_, ids)| ids.as_slice()).collect::<Vec<_>>(),
            batch_size,
        )?;
        let dim = self.dim();
        let mut pooled: Vec<(Vec<f32>, usize)> = vec![(vec![0.0; dim], 0); texts.len()];
        for ((owner, _), e) in windows.iter().zip(embs) {
            let (acc, n) = &mut pooled[*owner];
            for (a, v) in acc.iter_mut().zip(&e) {
                *a = match (long.pool, *n) {
                    (ChunkPool::Max, 0) => *v,
                    (ChunkPool::Max, _) => a.max(*v),
                    (ChunkPool::Mean, _) => *a + v,
                };
            }
            *n += 1;
        }
        Ok(pooled
            .into_iter()
            .map(|(mut v, n)| {
                if long.pool == ChunkPool::Mean {
                    v.iter_mut().for_each(|x| *x /= n.max(1) as f32);
                }
                if self.sentence.normalize {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                v
            })
            .collect())
    }

    /// Embeds ready token-id rows, longest first in batches, returned in input order.
    pub fn embed_ids(&self, rows: &[&[u32]], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(rows[i].len()));
        let batches: Vec<Vec<usize>> = order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect();
        let batch_of = |chunk: &[usize]| {
            let ids: Vec<&[u32]> = chunk.iter().map(|&i| rows[i]).collect();
            self.tokenizer.batch_from_ids(&ids, &self.device)
        };
        self.embed_batches(rows.len(), &batches, &batch_of, &mut |_| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds_cover_the_text() {
        assert_eq!(window_bounds(10, 10, 10), vec![(0, 10)], "a text of exactly one window");
        assert_eq!(
            window_bounds(25, 10, 10),
            vec![(0, 10), (10, 20), (20, 25)],
            "2.5 windows: three"
        );
        assert_eq!(window_bounds(25, 10, 5).len(), 4);
        assert_eq!(window_bounds(0, 10, 5), vec![(0, 0)]);
        for (n, w, s) in [(100, 7, 3), (64, 8, 8), (9, 8, 1)] {
            let b = window_bounds(n, w, s);
            assert_eq!(b[0].0, 0);
            assert_eq!(b.last().unwrap().1, n);
            assert!(b.windows(2).all(|p| p[1].0 == p[0].0 + s && p[1].0 < p[0].1 + 1));
            assert!(b.iter().all(|(a, e)| e - a <= w));
        }
    }

    #[test]
    fn strides_are_checked() {
        assert_eq!(LongText::chunk().stride_for(254).unwrap(), 191);
        let bad = LongText {
            stride: Some(0),
            ..LongText::chunk()
        };
        assert!(bad.stride_for(254).unwrap_err().to_string().contains("--chunk-stride"));
    }
}
