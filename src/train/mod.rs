//! Fine-tuning the encoder with label-aware losses: what each step sees (sampler), the losses,
//! the optimizer and schedule, and the loop with early stopping and checkpoints (trainer).

pub mod loss;
pub mod optim;
pub mod pass;
pub mod recipe;
pub mod sampler;
pub mod trainer;

use serde::{Deserialize, Serialize};

pub use recipe::{recipe, DataStats, TrainSettings};
pub use trainer::{train, Control, Event, HeadInit, RunSetup, TrainData, TrainReport};

/// The contrastive objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Supervised contrastive loss over class-balanced batches: every pair of rows in a batch
    /// counts, positive when they share a label.
    Supcon,
    /// SetFit's cosine objective over every pair of a class-balanced batch.
    Cosine,
    /// SetFit's recipe: one positive and one negative pair per row and iteration, cosine loss.
    Setfit,
    /// Cross-entropy through a linear head trained with the encoder, the head starting from the
    /// logistic regression fitted on the base model (linear probe, then fine-tune).
    Ce,
}

impl LossKind {
    /// The name the CLI flag and the API take.
    pub fn as_str(&self) -> &'static str {
        match self {
            LossKind::Supcon => "supcon",
            LossKind::Cosine => "cosine",
            LossKind::Setfit => "setfit",
            LossKind::Ce => "ce",
        }
    }
}

/// Training hyper-parameters, as [`recipe`] makes them from the data and the user's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub loss: LossKind,
    pub epochs: usize,
    pub learning_rate: f64,
    /// Sentences per step (SetFit: pairs per step are half of it).
    pub batch_size: usize,
    /// Stop after this many steps whatever the epochs say.
    pub max_steps: Option<usize>,
    pub warmup_ratio: f64,
    pub weight_decay: f64,
    /// Temperature of the supervised contrastive loss.
    pub temperature: f64,
    /// SetFit: pair-generation iterations per epoch.
    pub setfit_iterations: usize,
    /// Draw labels evenly rather than in proportion to their size.
    pub balanced: bool,
    /// Epochs without a better validation score before stopping.
    pub patience: usize,
    pub seed: u64,
    /// The precision the encoder's linear layers multiply in while training (bf16: f32 master
    /// weights and optimizer state). Runs recorded before it existed trained in f32.
    #[serde(default)]
    pub dtype: crate::encoder::Precision,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            loss: LossKind::Ce,
            epochs: 4,
            learning_rate: 1e-4,
            batch_size: 32,
            max_steps: None,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            temperature: 0.1,
            setfit_iterations: 5,
            balanced: false,
            patience: 2,
            seed: 42,
            dtype: crate::encoder::Precision::F32,
        }
    }
}
