//! Classification heads on top of sentence embeddings: the single-label logistic regression,
//! and the multi-label head (a sigmoid and a threshold per label).

mod fit;
pub mod logistic;
pub mod multi;

use std::path::Path;

pub use logistic::{HeadConfig, LogisticHead};
pub use multi::{MultiLabelHead, MULTI_LABEL_KIND};

use crate::error::{Error, Result};

/// `x w_j + b_j` for every row of `x` and every label `j` of the row-major (labels, dim)
/// `weights`: the raw scores of both heads.
pub(crate) fn linear_scores(x: &[Vec<f32>], weights: &[f32], bias: &[f32], dim: usize) -> Result<Vec<Vec<f32>>> {
    if let Some(r) = x.iter().find(|r| r.len() != dim) {
        return Err(Error::InvalidArgument(format!(
            "the head expects {dim}-dim embeddings, got {}",
            r.len()
        )));
    }
    Ok(x.iter()
        .map(|r| {
            weights
                .chunks_exact(dim.max(1))
                .zip(bias)
                .map(|(w, b)| w.iter().zip(r).map(|(a, v)| a * v).sum::<f32>() + b)
                .collect()
        })
        .collect())
}

/// The head of a fine-tuned model, as its `head.json` says.
#[derive(Debug, Clone)]
pub enum Head {
    Single(LogisticHead),
    Multi(MultiLabelHead),
}

impl Head {
    pub fn labels(&self) -> &[String] {
        match self {
            Head::Single(h) => &h.labels,
            Head::Multi(h) => &h.labels,
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            Head::Single(h) => h.dim,
            Head::Multi(h) => h.dim,
        }
    }

    pub fn is_multi_label(&self) -> bool {
        matches!(self, Head::Multi(_))
    }

    /// Calibrated probabilities: a distribution over labels (single-label), or one
    /// probability per label (multi-label).
    pub fn predict_proba(&self, x: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        match self {
            Head::Single(h) => h.predict_proba(x),
            Head::Multi(h) => h.predict_proba(x),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        match self {
            Head::Single(h) => h.save(path),
            Head::Multi(h) => h.save(path),
        }
    }

    /// Reads a `head.json` of either kind (a multi-label head says `"kind": "multi_label"`).
    pub fn load(path: &Path) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Kind {
            #[serde(default)]
            kind: Option<String>,
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json = |source| Error::Json {
            path: path.into(),
            source,
        };
        let kind: Kind = serde_json::from_str(&text).map_err(json)?;
        match kind.kind.as_deref() {
            None => LogisticHead::load(path).map(Head::Single),
            Some(MULTI_LABEL_KIND) => {
                let head: MultiLabelHead = serde_json::from_str(&text).map_err(json)?;
                head.check().map_err(|reason| Error::Weights {
                    path: path.into(),
                    reason: format!("{reason}; fine-tune the model again or restore its head.json"),
                })?;
                Ok(Head::Multi(head))
            }
            Some(other) => Err(Error::Weights {
                path: path.into(),
                reason: format!(
                    "unknown head kind {other:?}; this attune reads single-label and {MULTI_LABEL_KIND:?} heads"
                ),
            }),
        }
    }
}
