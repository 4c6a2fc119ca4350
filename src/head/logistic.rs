//! Multinomial logistic regression on sentence embeddings, trained in Rust: L2-regularised,
//! class-weighted cross-entropy, then temperature scaling on held-out rows so that confidences
//! are calibrated.

use std::path::Path;

use candle_core::{Device, Tensor, D};
use serde::{Deserialize, Serialize};

use super::fit::{matrix, LinearFit};
use crate::error::{Error, Result};

/// How the head is trained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadConfig {
    /// L2 strength on the weights (on the mean loss); `None` is the default of each head:
    /// 1/([`SINGLE_LABEL_C`] n) here, 1/n for the multi-label head.
    pub l2: Option<f64>,
    /// Weight each class by n / (k * n_class), as scikit-learn's `class_weight="balanced"`.
    pub class_weighted: bool,
    /// Full-batch optimisation steps.
    pub steps: usize,
    /// Adam's first step size (it decays over the steps); `None` is the default of each head:
    /// [`SINGLE_LABEL_LR`] here, 0.1 for the multi-label head.
    pub learning_rate: Option<f64>,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            l2: None,
            class_weighted: true,
            steps: 300,
            learning_rate: None,
        }
    }
}

/// scikit-learn's C (inverse L2 strength on the summed loss) of the single-label head. C = 10
/// beat scikit-learn's default of 1 on held-out rows at every size measured, on the frozen and
/// the fine-tuned encoders alike (`bench/head_study.py`, BENCHMARKS.md "Choosing the head"): unit
/// length embeddings need large weights to separate many labels, and C = 1 held them back.
pub const SINGLE_LABEL_C: f64 = 10.0;

/// Adam's first step size for the single-label head. Weak regularisation (C = 10) means large
/// weights: from 0.1 the 300 steps ended 0.03 from scikit-learn's probabilities, from 1.0 within
/// 1e-4 (`matches_scikit_learn`).
pub const SINGLE_LABEL_LR: f64 = 1.0;

/// A trained head: `softmax((x W^T + b) / temperature)`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogisticHead {
    pub labels: Vec<String>,
    pub dim: usize,
    /// Row-major (labels, dim).
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub temperature: f32,
}

impl LogisticHead {
    /// Fits the head on `x` (one embedding per row) with label ids `y` into `labels`.
    pub fn fit(x: &[Vec<f32>], y: &[usize], labels: &[String], cfg: &HeadConfig) -> Result<Self> {
        let n = x.len();
        let k = labels.len();
        if n == 0 || y.len() != n {
            return Err(Error::InvalidArgument(
                "the head needs one label per training row".into(),
            ));
        }
        if k < 2 {
            return Err(Error::InvalidArgument("the head needs at least two labels".into()));
        }
        let d = x[0].len();
        let xs = matrix(x)?;
        let mut counts = vec![0usize; k];
        for &l in y {
            counts[l] += 1;
        }
        let sw: Vec<f32> = y
            .iter()
            .map(|&l| {
                if cfg.class_weighted {
                    n as f32 / (k as f32 * counts[l] as f32)
                } else {
                    1.0
                }
            })
            .collect();
        let sw_sum: f32 = sw.iter().sum();
        let sw = Tensor::from_vec(sw, n, &Device::Cpu)?;
        let onehot: Vec<f32> = y
            .iter()
            .flat_map(|&l| (0..k).map(move |j| if j == l { 1.0 } else { 0.0 }))
            .collect();
        let onehot = Tensor::from_vec(onehot, (n, k), &Device::Cpu)?;
        let fit = LinearFit {
            l2: cfg.l2.unwrap_or(1.0 / (SINGLE_LABEL_C * n as f64)),
            learning_rate: cfg.learning_rate.unwrap_or(SINGLE_LABEL_LR),
            steps: cfg.steps,
        };
        let (weights, bias) = fit.run(&xs, k, |logits| {
            let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
            let nll = (logp * &onehot)?.sum(1)?.neg()?;
            Ok(((nll * &sw)?.sum_all()? / sw_sum as f64)?)
        })?;
        Ok(LogisticHead {
            labels: labels.to_vec(),
            dim: d,
            weights,
            bias,
            temperature: 1.0,
        })
    }

    /// Raw scores (before temperature), one row per input.
    pub fn logits(&self, x: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        super::linear_scores(x, &self.weights, &self.bias, self.dim)
    }

    /// Calibrated probabilities, one row per input, each summing to 1.
    pub fn predict_proba(&self, x: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        Ok(self.logits(x)?.iter().map(|l| softmax(l, self.temperature)).collect())
    }

    /// Fits the temperature on held-out rows by minimising their cross-entropy against targets
    /// smoothed as Platt does (the true label gets 1 - 1/(n+2)): when every held-out row is
    /// right, the plain likelihood drives the temperature to zero and the head to certainty,
    /// and the first wrong answer on new data then costs a huge loss.
    pub fn calibrate(&mut self, x: &[Vec<f32>], y: &[usize]) -> Result<()> {
        if x.is_empty() {
            return Ok(());
        }
        let logits = self.logits(x)?;
        let k = self.labels.len().max(2);
        let eps = 1.0 / (y.len() as f64 + 2.0);
        let off = eps / (k - 1) as f64;
        let nll = |t: f32| -> f64 {
            logits
                .iter()
                .zip(y)
                .map(|(l, &c)| {
                    softmax(l, t)
                        .iter()
                        .enumerate()
                        .map(|(j, p)| {
                            let target = if j == c { 1.0 - eps } else { off };
                            -target * (p.max(1e-12) as f64).ln()
                        })
                        .sum::<f64>()
                })
                .sum::<f64>()
                / y.len() as f64
        };
        // Golden-section search on log T in [ln 0.05, ln 20]; NLL is unimodal in T.
        let (mut lo, mut hi) = (0.05f64.ln(), 20f64.ln());
        let g = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..60 {
            let a = hi - g * (hi - lo);
            let b = lo + g * (hi - lo);
            if nll(a.exp() as f32) < nll(b.exp() as f32) {
                hi = b;
            } else {
                lo = a;
            }
        }
        self.temperature = ((lo + hi) / 2.0).exp() as f32;
        Ok(())
    }

    /// What a usable head must be: two labels or more, sizes that match, finite numbers and a
    /// positive temperature (0 made every confidence NaN).
    fn check(&self) -> std::result::Result<(), String> {
        let k = self.labels.len();
        if k < 2 {
            return Err(format!("the head has {k} labels; it needs at least 2"));
        }
        if self.dim == 0 || self.weights.len() != k * self.dim || self.bias.len() != k {
            return Err(format!(
                "the head's sizes do not match: {} labels, dim {}, {} weights, {} biases",
                k,
                self.dim,
                self.weights.len(),
                self.bias.len()
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(format!(
                "the head's temperature is {}; it must be above 0",
                self.temperature
            ));
        }
        if self.weights.iter().chain(&self.bias).any(|v| !v.is_finite()) {
            return Err("the head holds a weight that is not a finite number".into());
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::util::write_atomic(path, |w| serde_json::to_writer(w, self).map_err(std::io::Error::other))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let head: LogisticHead = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.into(),
            source,
        })?;
        head.check().map_err(|reason| Error::Weights {
            path: path.into(),
            reason: format!("{reason}; fine-tune the model again or restore its head.json"),
        })?;
        Ok(head)
    }
}

/// Softmax of `logits / t`, computed stably.
pub fn softmax(logits: &[f32], t: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|l| ((l - max) / t).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..60 {
            let l = i % 3;
            let j = (i / 3) as f32 * 0.01;
            let mut v = vec![0.1 * j; 4];
            v[l] += 1.0;
            x.push(v);
            y.push(l);
        }
        (x, y)
    }

    #[test]
    fn separates_blobs_and_probabilities_sum_to_one() {
        let (x, y) = blobs();
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut head = LogisticHead::fit(&x, &y, &labels, &HeadConfig::default()).unwrap();
        head.calibrate(&x, &y).unwrap();
        let p = head.predict_proba(&x).unwrap();
        for (row, &l) in p.iter().zip(&y) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let arg = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            assert_eq!(arg, l);
        }
        assert!(head.temperature > 0.05 && head.temperature < 20.0);
    }

    #[test]
    fn temperature_fixes_overconfidence() {
        // Logits that are right 75 % of the time but claim near-certainty (p = 0.9997). With
        // Platt's smoothed targets (1 - 1/(n+2) = 0.9 for the true label of 8 rows) the best
        // calibrated confidence is 0.75 * 0.9 + 0.25 * 0.1 = 0.70.
        let head = LogisticHead {
            labels: vec!["a".into(), "b".into()],
            dim: 1,
            weights: vec![4.0, -4.0],
            bias: vec![0.0, 0.0],
            temperature: 1.0,
        };
        let x: Vec<Vec<f32>> = (0..8).map(|_| vec![1.0]).collect();
        let y = vec![0, 0, 0, 0, 0, 0, 1, 1];
        let mut h = head.clone();
        h.calibrate(&x, &y).unwrap();
        let p = h.predict_proba(&x[..1]).unwrap()[0][0];
        assert!((p - 0.70).abs() < 0.01, "calibrated confidence {p}");
    }

    /// Against scikit-learn (tests/fixtures/make_logistic_reference.py): the same objective
    /// (balanced class weights, C = 10, unpenalised bias), so the same probabilities up to how
    /// far 300 Adam steps get from lbfgs's optimum.
    #[test]
    fn matches_scikit_learn() {
        #[derive(serde::Deserialize)]
        struct Fixture {
            #[serde(rename = "C")]
            c: f64,
            x: Vec<Vec<f32>>,
            y: Vec<usize>,
            new: Vec<Vec<f32>>,
            proba_train: Vec<Vec<f32>>,
            proba_new: Vec<Vec<f32>>,
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/logistic_reference.json");
        let f: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(f.c, SINGLE_LABEL_C, "the fixture was made for another C");
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let head = LogisticHead::fit(&f.x, &f.y, &labels, &HeadConfig::default()).unwrap();
        let mut worst = 0f32;
        for (x, want) in [(&f.x, &f.proba_train), (&f.new, &f.proba_new)] {
            for (got, want) in head.predict_proba(x).unwrap().iter().zip(want.iter()) {
                for (g, w) in got.iter().zip(want) {
                    worst = worst.max((g - w).abs());
                }
            }
        }
        assert!(worst < 5e-4, "max abs difference from scikit-learn {worst}");
    }

    #[test]
    fn save_and_load() {
        let (x, y) = blobs();
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let head = LogisticHead::fit(&x, &y, &labels, &HeadConfig::default()).unwrap();
        let d = tempfile::tempdir().unwrap();
        head.save(&d.path().join("h.json")).unwrap();
        let back = LogisticHead::load(&d.path().join("h.json")).unwrap();
        assert_eq!(back.predict_proba(&x).unwrap(), head.predict_proba(&x).unwrap());
    }
}
