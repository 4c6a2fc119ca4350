//! Choosing the model a run hands over: the base encoder (with its fitted head) is always a
//! candidate beside the fine-tuned one, and the selection rows decide. The test rows play no
//! part here.

use serde::{Deserialize, Serialize};

use crate::eval::Metrics;

/// The model a run yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Candidate {
    /// The frozen base encoder with a head fitted on the training rows.
    Base,
    /// The fine-tuned encoder (its best epoch) with a head fitted on the training rows.
    Finetuned,
}

impl Candidate {
    pub fn as_str(&self) -> &'static str {
        match self {
            Candidate::Base => "base",
            Candidate::Finetuned => "finetuned",
        }
    }
}

/// What the selection step saw and chose; kept in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Selection {
    pub selected: Candidate,
    /// One sentence: why, and what to try next when fine-tuning lost.
    pub reason: String,
    pub base_score: f64,
    pub finetuned_score: f64,
    /// Both candidates on the selection rows (optimistic: these rows made the decisions).
    pub base: Metrics,
    pub finetuned: Metrics,
}

/// The score that early stopping and the candidate choice compare on the selection rows:
/// macro-F1, then the calibrated cross-entropy as a tie-break (its weight is small enough that
/// one row more right on a few hundred rows always wins).
pub fn score(m: &Metrics) -> f64 {
    m.f1_macro - 0.001 * m.loss.min(10.0)
}

/// Picks the fine-tuned model only when it scores strictly higher than the base model on the
/// selection rows; a tie keeps the simpler, unchanged model.
pub fn select(base: Metrics, finetuned: Metrics) -> Selection {
    let (b, f) = (score(&base), score(&finetuned));
    let rows = base.rows;
    let (selected, reason) = if f > b {
        (
            Candidate::Finetuned,
            format!(
                "The fine-tuned model won on the {rows} selection rows (macro-F1 {:.4} against the base model's {:.4}).",
                finetuned.f1_macro, base.f1_macro
            ),
        )
    } else {
        (
            Candidate::Base,
            format!(
                "Fine-tuning did not beat the base model on the {rows} selection rows (macro-F1 {:.4} against {:.4}), \
                 so this model is the base model with a fitted head; try more rows per label, a lower --learning-rate \
                 or another --loss, or keep it: the base model already separates these labels well.",
                finetuned.f1_macro, base.f1_macro
            ),
        )
    };
    Selection {
        selected,
        reason,
        base_score: b,
        finetuned_score: f,
        base,
        finetuned,
    }
}
