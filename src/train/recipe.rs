//! The default recipe follows from the data: how many rows there are (steps, and how many rows
//! are held out; see `finetune`), and how long the texts are (like-length batches).
//! Whatever the user sets ([`TrainSettings`]) wins; the rest comes from [`recipe`]. The rules
//! were chosen by measurement on held-out splits (`bench/matrix.sh`, results in BENCHMARKS.md).

use serde::{Deserialize, Serialize};

use super::{LossKind, TrainConfig};
use crate::encoder::Precision;

/// What the recipe looks at: the training rows (the steps of the contrastive losses follow
/// from them). How long the texts are shapes the batches (`ShuffledBatches`), and how many rows
/// there are shapes the held-out parts (`finetune`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataStats {
    pub rows: usize,
}

/// Training settings a user (CLI flag, API field) may set; `None` follows the recipe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    pub loss: Option<LossKind>,
    pub epochs: Option<usize>,
    pub learning_rate: Option<f64>,
    pub batch_size: Option<usize>,
    pub max_steps: Option<usize>,
    pub warmup_ratio: Option<f64>,
    pub weight_decay: Option<f64>,
    pub temperature: Option<f64>,
    pub setfit_iterations: Option<usize>,
    pub balanced: Option<bool>,
    pub patience: Option<usize>,
    pub seed: Option<u64>,
    /// The precision training multiplies in (f32 or bf16). Left out when unset, so a registry
    /// shared with workers of an earlier version (which refuse unknown fields) still runs f32 jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<Precision>,
}

/// Training steps a contrastive run gets at least: few-shot data would otherwise take a handful
/// of steps an epoch.
const MIN_CONTRASTIVE_STEPS: usize = 120;

/// The recipe for `stats`, with the user's `settings` on top.
///
/// The default loss is `ce` at every size measured: on held-out rows it beat the in-batch
/// cosine loss on Banking77 with 8 and 16 rows per label (where the cosine loss fell below the
/// frozen model) and on atis8, and tied it on the demo (BENCHMARKS.md, "Recipe matrix"). Its
/// batches are of like-length texts; the contrastive losses get class-balanced batches and at
/// least [`MIN_CONTRASTIVE_STEPS`] steps.
pub fn recipe(stats: &DataStats, settings: &TrainSettings) -> TrainConfig {
    let mut c = TrainConfig::default();
    let loss = settings.loss.unwrap_or(LossKind::Ce);
    c.loss = loss;
    match loss {
        // LP-FT: the head starts at the fitted logistic regression, so a few epochs at a
        // moderate rate move the encoder without first undoing it.
        LossKind::Ce => {}
        LossKind::Cosine | LossKind::Supcon => {
            let per_epoch = stats.rows.div_ceil(c.batch_size).max(1);
            c.epochs = MIN_CONTRASTIVE_STEPS.div_ceil(per_epoch).clamp(6, 30);
            c.balanced = true;
        }
        LossKind::Setfit => {
            c.epochs = 1;
            c.balanced = true;
        }
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = settings.$f { c.$f = v; } )* };
    }
    set!(
        epochs,
        learning_rate,
        batch_size,
        warmup_ratio,
        weight_decay,
        temperature,
        setfit_iterations,
        balanced,
        patience,
        seed,
        dtype
    );
    if settings.max_steps.is_some() {
        c.max_steps = settings.max_steps;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rows: usize) -> DataStats {
        DataStats { rows }
    }

    #[test]
    fn the_recipe_follows_the_data_and_the_user_wins() {
        assert_eq!(recipe(&stats(8000), &TrainSettings::default()).loss, LossKind::Ce);
        assert_eq!(recipe(&stats(616), &TrainSettings::default()).loss, LossKind::Ce);
        let cosine = TrainSettings {
            loss: Some(LossKind::Cosine),
            ..Default::default()
        };
        let few = recipe(&stats(616), &cosine);
        assert!(few.balanced);
        assert!(few.epochs * 616usize.div_ceil(few.batch_size) >= MIN_CONTRASTIVE_STEPS);
        let set = TrainSettings {
            loss: Some(LossKind::Supcon),
            epochs: Some(2),
            seed: Some(9),
            ..Default::default()
        };
        let c = recipe(&stats(8000), &set);
        assert_eq!((c.loss, c.epochs, c.seed), (LossKind::Supcon, 2, 9));
    }
}
