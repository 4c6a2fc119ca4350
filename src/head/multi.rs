//! The multi-label head: one sigmoid per label over the sentence embedding, trained together as
//! L2-regularised, class-weighted binary logistic regressions. On selection rows each label then
//! gets a Platt scaling (its own slope and offset, so confidences are calibrated per label) and
//! a decision threshold, the one that gives the label its best F1 there.

use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::fit::{matrix, LinearFit};
use super::HeadConfig;
use crate::error::{Error, Result};

/// What a multi-label `head.json` says it is.
pub const MULTI_LABEL_KIND: &str = "multi_label";

/// Adam's first step size for the per-label regressions (their L2 stays at 1/n, as measured for
/// issue 13; the single-label head's weaker one needs a larger step).
const MULTI_LABEL_LR: f64 = 0.1;

/// A trained multi-label head: `sigmoid(a_j * (x w_j + b_j) + c_j)` per label `j`, and label
/// `j` predicted where that reaches `thresholds[j]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MultiLabelHead {
    /// Always [`MULTI_LABEL_KIND`]: how a reader tells this head from the single-label one.
    pub kind: String,
    pub labels: Vec<String>,
    pub dim: usize,
    /// Row-major (labels, dim).
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    /// Platt scaling per label: slope and offset on the raw score.
    pub scale: Vec<f32>,
    pub offset: Vec<f32>,
    /// Decision threshold per label on the calibrated probability.
    pub thresholds: Vec<f32>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Multi-hot targets, row-major (rows, k).
pub fn multi_hot(sets: &[Vec<usize>], k: usize) -> Vec<f32> {
    sets.iter()
        .flat_map(|s| (0..k).map(move |j| if s.contains(&j) { 1.0 } else { 0.0 }))
        .collect()
}

impl MultiLabelHead {
    /// Fits the head on `x` with label sets `y` (label ids into `labels`; a set may be empty).
    /// With `class_weighted`, each label's positives and negatives weigh half each, so a rare
    /// label is not learned as "never".
    pub fn fit(x: &[Vec<f32>], y: &[Vec<usize>], labels: &[String], cfg: &HeadConfig) -> Result<Self> {
        let (n, k) = (x.len(), labels.len());
        if n == 0 || y.len() != n {
            return Err(Error::InvalidArgument(
                "the head needs one label set per training row".into(),
            ));
        }
        if k < 2 {
            return Err(Error::InvalidArgument("the head needs at least two labels".into()));
        }
        if y.iter().flatten().any(|&j| j >= k) {
            return Err(Error::InvalidArgument(
                "a label set names a label the head does not have".into(),
            ));
        }
        let d = x[0].len();
        let xs = matrix(x)?;
        let targets = multi_hot(y, k);
        let mut pos = vec![0usize; k];
        for &j in y.iter().flatten() {
            pos[j] += 1;
        }
        let (wp, wn): (Vec<f32>, Vec<f32>) = pos
            .iter()
            .map(|&p| {
                if cfg.class_weighted && p > 0 && p < n {
                    (n as f32 / (2.0 * p as f32), n as f32 / (2.0 * (n - p) as f32))
                } else {
                    (1.0, 1.0)
                }
            })
            .unzip();
        let sample_w: Vec<f32> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| if *t > 0.5 { wp[i % k] } else { wn[i % k] })
            .collect();
        let yt = Tensor::from_vec(targets, (n, k), &Device::Cpu)?;
        let sw = Tensor::from_vec(sample_w, (n, k), &Device::Cpu)?;
        let fit = LinearFit {
            l2: cfg.l2.unwrap_or(1.0 / n as f64),
            learning_rate: cfg.learning_rate.unwrap_or(MULTI_LABEL_LR),
            steps: cfg.steps,
        };
        let (weights, bias) = fit.run(&xs, k, |z| {
            let bce = crate::train::loss::bce_with_logits_terms(z, &yt)?;
            // Summed over labels, averaged over rows: each label is its own regression.
            Ok(((bce * &sw)?.sum_all()? / n as f64)?)
        })?;
        Ok(MultiLabelHead {
            kind: MULTI_LABEL_KIND.into(),
            labels: labels.to_vec(),
            dim: d,
            weights,
            bias,
            scale: vec![1.0; k],
            offset: vec![0.0; k],
            thresholds: vec![0.5; k],
        })
    }

    /// Raw scores `x w_j + b_j`, one row per input.
    pub fn logits(&self, x: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        super::linear_scores(x, &self.weights, &self.bias, self.dim)
    }

    /// Calibrated probabilities per label (they need not sum to 1).
    pub fn predict_proba(&self, x: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .logits(x)?
            .iter()
            .map(|z| {
                z.iter()
                    .enumerate()
                    .map(|(j, &v)| sigmoid((self.scale[j] * v + self.offset[j]) as f64) as f32)
                    .collect()
            })
            .collect())
    }

    /// Fits each label's Platt scaling and then its threshold on selection rows `x` with sets
    /// `y`. Only selection rows come here: the thresholds are decisions, and figures come from
    /// rows no decision saw.
    pub fn calibrate(&mut self, x: &[Vec<f32>], y: &[Vec<usize>]) -> Result<()> {
        if x.is_empty() {
            return Ok(());
        }
        let z = self.logits(x)?;
        for j in 0..self.labels.len() {
            let scores: Vec<f64> = z.iter().map(|r| r[j] as f64).collect();
            let truth: Vec<bool> = y.iter().map(|s| s.contains(&j)).collect();
            let positives = truth.iter().filter(|t| **t).count();
            // A label never (or always) true on these rows gives Platt nothing to rank: its
            // fit would flatten the label to a constant. Keep the trained head's scores.
            if positives == 0 || positives == truth.len() {
                (self.scale[j], self.offset[j], self.thresholds[j]) = (1.0, 0.0, 0.5);
                continue;
            }
            let (a, c) = match platt(&scores, &truth) {
                (a, c) if a > 0.0 => (a, c),
                // A slope at or below 0 would invert or flatten the label.
                _ => (1.0, 0.0),
            };
            self.scale[j] = a as f32;
            self.offset[j] = c as f32;
            let probs: Vec<f64> = scores.iter().map(|s| sigmoid(a * s + c)).collect();
            self.thresholds[j] = best_threshold(&probs, &truth) as f32;
        }
        Ok(())
    }

    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let k = self.labels.len();
        if self.kind != MULTI_LABEL_KIND {
            return Err(format!("the head's kind is {:?}, not {MULTI_LABEL_KIND:?}", self.kind));
        }
        if k < 2 {
            return Err(format!("the head has {k} labels; it needs at least 2"));
        }
        if self.dim == 0
            || self.weights.len() != k * self.dim
            || [
                self.bias.len(),
                self.scale.len(),
                self.offset.len(),
                self.thresholds.len(),
            ] != [k; 4]
        {
            return Err(format!(
                "the head's sizes do not match its {k} labels and dim {}",
                self.dim
            ));
        }
        let all = self
            .weights
            .iter()
            .chain(&self.bias)
            .chain(&self.scale)
            .chain(&self.offset);
        if all.chain(&self.thresholds).any(|v| !v.is_finite()) {
            return Err("the head holds a number that is not finite".into());
        }
        if self.thresholds.iter().any(|t| !(0.0..=1.0).contains(t)) {
            return Err("a threshold is outside [0, 1]".into());
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::util::write_atomic(path, |w| serde_json::to_writer(w, self).map_err(std::io::Error::other))
    }
}

/// Platt's fit of `sigmoid(a s + c)` to `truth`, with his smoothed targets
/// ((n+ + 1)/(n+ + 2) and 1/(n- + 2)) so that a perfectly separated label keeps a finite slope;
/// Newton's method on the two parameters.
pub fn platt(scores: &[f64], truth: &[bool]) -> (f64, f64) {
    let np = truth.iter().filter(|t| **t).count() as f64;
    let nn = truth.len() as f64 - np;
    let (hi, lo) = ((np + 1.0) / (np + 2.0), 1.0 / (nn + 2.0));
    let target: Vec<f64> = truth.iter().map(|t| if *t { hi } else { lo }).collect();
    let (mut a, mut c) = (1.0f64, 0.0f64);
    for _ in 0..50 {
        let (mut ga, mut gc, mut haa, mut hac, mut hcc) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (s, t) in scores.iter().zip(&target) {
            let p = sigmoid(a * s + c);
            let (r, v) = (p - t, p * (1.0 - p));
            ga += r * s;
            gc += r;
            haa += v * s * s;
            hac += v * s;
            hcc += v;
        }
        let det = haa * hcc - hac * hac;
        if det.abs() < 1e-12 {
            break;
        }
        let (da, dc) = ((hcc * ga - hac * gc) / det, (haa * gc - hac * ga) / det);
        // Newton steps on the logistic loss can overshoot from far away: cap them.
        let cap = (da.abs().max(dc.abs()) / 5.0).max(1.0);
        a -= da / cap;
        c -= dc / cap;
        if da.abs() + dc.abs() < 1e-10 {
            break;
        }
    }
    if a.is_finite() && c.is_finite() {
        (a, c)
    } else {
        (1.0, 0.0)
    }
}

/// The threshold on a 0.05 grid that gives the best F1 on these rows, the one nearest 0.5
/// among ties; 0.5 for a label with no positive row.
pub fn best_threshold(probs: &[f64], truth: &[bool]) -> f64 {
    if !truth.iter().any(|t| *t) {
        return 0.5;
    }
    let f1_at = |th: f64| -> f64 {
        let (mut tp, mut fp, mut fn_) = (0.0f64, 0.0f64, 0.0f64);
        for (p, t) in probs.iter().zip(truth) {
            match (*p >= th, *t) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                _ => {}
            }
        }
        2.0 * tp / (2.0 * tp + fp + fn_)
    };
    (1..20u32)
        .map(|i| f64::from(i) * 0.05)
        .map(|th: f64| (th, f1_at(th)))
        .max_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then((b.0 - 0.5).abs().total_cmp(&(a.0 - 0.5).abs()))
        })
        .map_or(0.5, |(th, _)| th)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows in 4 dims: label a on dim 0, b on dim 1, c on dim 2; some rows carry a and b, some none.
    fn data() -> (Vec<Vec<f32>>, Vec<Vec<usize>>) {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..80 {
            let set: Vec<usize> = match i % 5 {
                0 => vec![0],
                1 => vec![1],
                2 => vec![2],
                3 => vec![0, 1],
                _ => vec![],
            };
            let mut v = vec![0.02 * (i % 7) as f32; 4];
            for &j in &set {
                v[j] += 1.0;
            }
            v[3] += 0.5;
            x.push(v);
            y.push(set);
        }
        (x, y)
    }

    fn names() -> Vec<String> {
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn learns_sets_including_the_empty_one() {
        let (x, y) = data();
        let mut head = MultiLabelHead::fit(&x, &y, &names(), &HeadConfig::default()).unwrap();
        head.calibrate(&x, &y).unwrap();
        let probs = head.predict_proba(&x).unwrap();
        let pred = crate::eval::predict_sets(&probs, &head.thresholds);
        assert_eq!(pred, y);
        head.check().unwrap();
    }

    #[test]
    fn thresholds_come_from_the_rows_given_to_calibrate_only() {
        let (x, y) = data();
        let mut head = MultiLabelHead::fit(&x, &y, &names(), &HeadConfig::default()).unwrap();
        let before = head.clone();
        // Calibrating on rows where label b is never true leaves b at 0.5 and moves nothing
        // learned from the training rows.
        let sel: Vec<usize> = (0..x.len()).filter(|i| !y[*i].contains(&1)).collect();
        let xs: Vec<Vec<f32>> = sel.iter().map(|i| x[*i].clone()).collect();
        let ys: Vec<Vec<usize>> = sel.iter().map(|i| y[*i].clone()).collect();
        head.calibrate(&xs, &ys).unwrap();
        assert_eq!(head.thresholds[1], 0.5);
        assert_eq!(
            (head.scale[1], head.offset[1]),
            (1.0, 0.0),
            "b keeps its trained scores"
        );
        let p = head.predict_proba(&x).unwrap();
        assert!(
            y.iter().zip(&p).any(|(s, p)| s.contains(&1) && p[1] > 0.5),
            "b is still predicted"
        );
        assert_eq!((head.weights.clone(), head.bias.clone()), (before.weights, before.bias));
        let mut other = head.clone();
        other.calibrate(&x, &y).unwrap();
        assert_ne!(other.scale, head.scale, "other selection rows, other calibration");
    }

    #[test]
    fn platt_and_threshold_hand_checked() {
        // Separated scores: the fit keeps a finite slope from the smoothed targets and ranks
        // the rows right.
        let s = [-2.0, -1.0, 1.0, 2.0];
        let t = [false, false, true, true];
        let (a, c) = platt(&s, &t);
        assert!(a.is_finite() && a > 0.0 && c.abs() < 1e-6, "{a} {c}");
        // F1 by threshold: probs .2 .4 .6 .8, truth F T T T: 0.45 gives tp 2 fp 0 fn 1 (0.8);
        // 0.25 gives tp 3 fp 0 fn 0 (1.0) at every grid point in (0.2, 0.4].
        let th = best_threshold(&[0.2, 0.4, 0.6, 0.8], &[false, true, true, true]);
        assert!((th - 0.4).abs() < 1e-9, "{th}");
        assert_eq!(best_threshold(&[0.9], &[false]), 0.5);
    }
}
