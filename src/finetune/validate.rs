//! The one check of a run's settings, before anything loads: the CLI, the API and the dashboard
//! all call [`FinetuneOptions::validate`], so a setting is refused the same way on every face,
//! and the error names the setting in the caller's terms ([`Setting::flag`] for the CLI,
//! [`Setting::field`] for the API).

use serde::{Deserialize, Serialize};

use super::FinetuneOptions;
use crate::error::{Error, Result};

/// A setting of a run, as each face names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    Epochs,
    LearningRate,
    BatchSize,
    MaxSteps,
    WarmupRatio,
    WeightDecay,
    Temperature,
    SetfitIterations,
    Patience,
    ValidFraction,
    TestFraction,
    Name,
    ChunkStride,
    LabelSeparator,
    Dtype,
}

impl Setting {
    /// The JSON name (the API's `settings.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Epochs => "epochs",
            Setting::LearningRate => "learning_rate",
            Setting::BatchSize => "batch_size",
            Setting::MaxSteps => "max_steps",
            Setting::WarmupRatio => "warmup_ratio",
            Setting::WeightDecay => "weight_decay",
            Setting::Temperature => "temperature",
            Setting::SetfitIterations => "setfit_iterations",
            Setting::Patience => "patience",
            Setting::ValidFraction => "valid_fraction",
            Setting::TestFraction => "test_fraction",
            Setting::Name => "name",
            Setting::ChunkStride => "chunk_stride",
            Setting::LabelSeparator => "label_separator",
            Setting::Dtype => "dtype",
        }
    }

    /// The CLI flag.
    pub fn flag(self) -> String {
        format!("--{}", self.name().replace('_', "-"))
    }

    /// The API's JSON field.
    pub fn field(self) -> String {
        match self {
            Setting::Name => "name".into(),
            // A dataset upload's form field.
            Setting::LabelSeparator => "label_separator".into(),
            s => format!("settings.{}", s.name()),
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The caps: wide enough for every real run, narrow enough that a typo or a hostile request
/// cannot occupy the machine for years or train to garbage.
pub const MAX_EPOCHS: usize = 1000;
pub const MAX_STEPS: usize = 1_000_000;
pub const MIN_BATCH: usize = 4;
pub const MAX_BATCH: usize = 1024;
/// Above this AdamW rate a transformer's weights are destroyed in a few steps (a rate of 5 left
/// a model at chance); fine-tuning uses 1e-5 to 1e-3.
pub const MAX_LEARNING_RATE: f64 = 1e-2;
pub const MAX_NAME_CHARS: usize = 200;

fn bad(setting: Setting, reason: impl Into<String>) -> Error {
    Error::Setting {
        setting,
        reason: reason.into(),
    }
}

fn in_range<T: PartialOrd + Copy + std::fmt::Display>(
    setting: Setting,
    value: Option<T>,
    lo: T,
    hi: T,
    why: &str,
) -> Result<()> {
    match value {
        Some(v) if !(v >= lo && v <= hi) => Err(bad(setting, format!("{v} is out of range: use {lo} to {hi}{why}"))),
        _ => Ok(()),
    }
}

impl FinetuneOptions {
    /// Refuses settings that cannot work, before any data or model is loaded.
    pub fn validate(&self) -> Result<()> {
        let t = &self.train;
        in_range(Setting::Epochs, t.epochs, 1, MAX_EPOCHS, "")?;
        in_range(Setting::MaxSteps, t.max_steps, 1, MAX_STEPS, "")?;
        in_range(
            Setting::BatchSize,
            t.batch_size,
            MIN_BATCH,
            MAX_BATCH,
            " (a batch needs rows to compare)",
        )?;
        in_range(
            Setting::LearningRate,
            t.learning_rate,
            0.0,
            MAX_LEARNING_RATE,
            " (fine-tuning uses 1e-5 to 1e-3; 0 trains nothing)",
        )?;
        in_range(Setting::WarmupRatio, t.warmup_ratio, 0.0, 1.0, "")?;
        // The upper bound is the model's window, checked once it is loaded.
        in_range(Setting::ChunkStride, self.long_text.stride, 1, usize::MAX, " tokens")?;
        if let Some(sep) = &self.label_separator {
            if sep.trim().is_empty() || sep.contains(['\n', '\r', '"']) {
                return Err(bad(
                    Setting::LabelSeparator,
                    format!("{sep:?} cannot split labels: use a visible character such as + | or ;"),
                ));
            }
        }
        in_range(Setting::WeightDecay, t.weight_decay, 0.0, 1.0, "")?;
        in_range(Setting::Temperature, t.temperature, 1e-3, 10.0, "")?;
        in_range(Setting::SetfitIterations, t.setfit_iterations, 1, 100, "")?;
        in_range(Setting::Patience, t.patience, 1, MAX_EPOCHS, "")?;
        if t.dtype == Some(crate::encoder::Precision::Int8) {
            return Err(bad(
                Setting::Dtype,
                "int8 is for inference (embed, classify, eval, serve): train in f32 or bf16",
            ));
        }
        if self.valid.is_none() {
            in_range(Setting::ValidFraction, Some(self.valid_fraction), 0.01, 0.5, "")?;
        }
        if self.test.is_none() {
            in_range(Setting::TestFraction, Some(self.test_fraction), 0.01, 0.5, "")?;
        }
        if let Some(n) = &self.name {
            // A nickname is looked up before folders and Hub ids, so one that looks like either
            // would shadow a base model.
            let looks_like_a_path = n.contains(['/', '\\']) || n.starts_with(['.', '~']);
            if n.trim().is_empty()
                || n.chars().count() > MAX_NAME_CHARS
                || n.chars().any(char::is_control)
                || looks_like_a_path
            {
                return Err(bad(
                    Setting::Name,
                    format!(
                        "a nickname has 1 to {MAX_NAME_CHARS} characters, no control characters and no \"/\" or \"\\\", and does not start with \".\" or \"~\""
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::TrainSettings;

    fn with(train: TrainSettings) -> FinetuneOptions {
        FinetuneOptions {
            train,
            ..Default::default()
        }
    }

    #[test]
    fn each_bad_setting_is_named_and_good_ones_pass() {
        assert!(FinetuneOptions::default().validate().is_ok());
        let cases = [
            (
                TrainSettings {
                    epochs: Some(0),
                    ..Default::default()
                },
                Setting::Epochs,
            ),
            (
                TrainSettings {
                    epochs: Some(1_000_000_000_000),
                    ..Default::default()
                },
                Setting::Epochs,
            ),
            (
                TrainSettings {
                    max_steps: Some(0),
                    ..Default::default()
                },
                Setting::MaxSteps,
            ),
            (
                TrainSettings {
                    batch_size: Some(1),
                    ..Default::default()
                },
                Setting::BatchSize,
            ),
            (
                TrainSettings {
                    learning_rate: Some(5.0),
                    ..Default::default()
                },
                Setting::LearningRate,
            ),
            (
                TrainSettings {
                    learning_rate: Some(f64::NAN),
                    ..Default::default()
                },
                Setting::LearningRate,
            ),
            (
                TrainSettings {
                    learning_rate: Some(-1e-4),
                    ..Default::default()
                },
                Setting::LearningRate,
            ),
            (
                TrainSettings {
                    warmup_ratio: Some(2.0),
                    ..Default::default()
                },
                Setting::WarmupRatio,
            ),
        ];
        for (t, want) in cases {
            match with(t.clone()).validate() {
                Err(Error::Setting { setting, reason }) => {
                    assert_eq!(setting, want, "{t:?}");
                    assert!(reason.contains("use "), "{reason}");
                }
                other => panic!("{t:?}: {other:?}"),
            }
        }
        let ok = TrainSettings {
            epochs: Some(3),
            learning_rate: Some(0.0),
            batch_size: Some(8),
            ..Default::default()
        };
        assert!(with(ok).validate().is_ok(), "a rate of 0 is allowed: it trains nothing");
        assert_eq!(Setting::BatchSize.flag(), "--batch-size");
        assert_eq!(Setting::BatchSize.field(), "settings.batch_size");
    }
}
