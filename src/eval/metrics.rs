//! Classification metrics with scikit-learn's conventions (a label never predicted has precision
//! 0; macro averages are unweighted over the labels that occur in truth or prediction; weighted
//! averages weigh by support), and the cosine silhouette of embeddings grouped by label.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Precision, recall, F1 and support of one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Rows are the true label, columns the predicted one, both in `labels` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<usize>>,
}

/// The metrics of one model on one labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub accuracy: f64,
    /// Mean cross-entropy of the calibrated probabilities.
    pub loss: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    pub precision_weighted: f64,
    pub recall_weighted: f64,
    pub f1_weighted: f64,
    /// Mean cosine silhouette of the embeddings grouped by true label, in [-1, 1].
    pub silhouette: f64,
    pub per_label: BTreeMap<String, LabelMetrics>,
    /// Empty for a multi-label model (see [`Metrics::multi_label`]).
    pub confusion: Confusion,
    /// Rows evaluated.
    pub rows: usize,
    /// A multi-label model's own figures; there `accuracy` is the Hamming score, `loss` the mean
    /// binary cross-entropy per label, and the macro and weighted averages are over labels.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub multi_label: Option<super::multi::MultiLabelFigures>,
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

impl Metrics {
    /// Metrics of `probs` (one row of label probabilities per input) against `truth` (label ids
    /// into `labels`), with the silhouette of `embeddings`.
    pub fn compute(labels: &[String], truth: &[usize], probs: &[Vec<f32>], embeddings: &[Vec<f32>]) -> Result<Self> {
        let n = truth.len();
        if n == 0 || probs.len() != n {
            return Err(Error::InvalidArgument(
                "metrics need one prediction per labelled row".into(),
            ));
        }
        let k = labels.len();
        let pred: Vec<usize> = probs
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i)
            })
            .collect();
        let mut matrix = vec![vec![0usize; k]; k];
        for (&t, &p) in truth.iter().zip(&pred) {
            matrix[t][p] += 1;
        }
        let correct: usize = (0..k).map(|i| matrix[i][i]).sum();
        let loss = truth
            .iter()
            .zip(probs)
            .map(|(&t, p)| -(p[t].max(1e-12) as f64).ln())
            .sum::<f64>()
            / n as f64;
        let mut per_label = BTreeMap::new();
        let (mut pm, mut rm, mut fm, mut pw, mut rw, mut fw, mut present) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
        for (i, name) in labels.iter().enumerate() {
            let tp = matrix[i][i] as f64;
            let support: usize = matrix[i].iter().sum();
            let predicted: usize = (0..k).map(|r| matrix[r][i]).sum();
            if support == 0 && predicted == 0 {
                continue;
            }
            let p = if predicted == 0 { 0.0 } else { tp / predicted as f64 };
            let r = if support == 0 { 0.0 } else { tp / support as f64 };
            let f = f1(p, r);
            present += 1;
            pm += p;
            rm += r;
            fm += f;
            let w = support as f64 / n as f64;
            pw += w * p;
            rw += w * r;
            fw += w * f;
            per_label.insert(
                name.clone(),
                LabelMetrics {
                    precision: p,
                    recall: r,
                    f1: f,
                    support,
                },
            );
        }
        let m = present.max(1) as f64;
        Ok(Metrics {
            accuracy: correct as f64 / n as f64,
            loss,
            precision_macro: pm / m,
            recall_macro: rm / m,
            f1_macro: fm / m,
            precision_weighted: pw,
            recall_weighted: rw,
            f1_weighted: fw,
            silhouette: silhouette(embeddings, truth)?,
            per_label,
            confusion: Confusion {
                labels: labels.to_vec(),
                matrix,
            },
            rows: n,
            multi_label: None,
        })
    }
}

/// Mean silhouette with cosine distance (1 - cosine), as scikit-learn's
/// `silhouette_score(X, labels, metric="cosine")`: a row alone in its label scores 0. Fewer than
/// two labels give 0.
pub fn silhouette(embeddings: &[Vec<f32>], labels: &[usize]) -> Result<f64> {
    let n = embeddings.len();
    if n != labels.len() {
        return Err(Error::InvalidArgument("one label per embedding".into()));
    }
    let sim = super::similarity::cosine_matrix(embeddings)?;
    Ok(silhouette_by(n, labels, |i, j| (1.0 - sim[i * n + j]).max(0.0) as f64))
}

/// Mean silhouette with Euclidean distance, for points in the plane (the maps).
pub fn silhouette_euclidean(points: &[[f64; 2]], labels: &[usize]) -> f64 {
    silhouette_by(points.len(), labels, |i, j| {
        let (a, b) = (points[i], points[j]);
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    })
}

/// The silhouette of `n` points under the distance `dist`.
fn silhouette_by(n: usize, labels: &[usize], dist: impl Fn(usize, usize) -> f64) -> f64 {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    if sizes.iter().filter(|s| **s > 0).count() < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    let mut sums = vec![0f64; k];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for j in 0..n {
            if i != j {
                sums[labels[j]] += dist(i, j);
            }
        }
        let own = labels[i];
        if sizes[own] <= 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|c| *c != own && sizes[*c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        total += if a.max(b) > 0.0 { (b - a) / a.max(b) } else { 0.0 };
    }
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// truth  a a a b b c ; pred a a b b c c (as one-hot probabilities).
    /// Hand-computed: a: P=2/2 R=2/3 F=0.8; b: P=1/2 R=1/2 F=0.5; c: P=1/2 R=1/1 F=2/3.
    #[test]
    fn matches_hand_computed_values() {
        let labels = names(&["a", "b", "c"]);
        let truth = [0, 0, 0, 1, 1, 2];
        let pred = [0, 0, 1, 1, 2, 2];
        let probs: Vec<Vec<f32>> = pred
            .iter()
            .map(|&p| (0..3).map(|j| if j == p { 0.8 } else { 0.1 }).collect())
            .collect();
        let emb: Vec<Vec<f32>> = truth.iter().map(|&t| vec![t as f32 + 1.0, 1.0]).collect();
        let m = Metrics::compute(&labels, &truth, &probs, &emb).unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        close(m.accuracy, 4.0 / 6.0);
        close(m.per_label["a"].f1, 0.8);
        close(m.per_label["b"].precision, 0.5);
        close(m.per_label["c"].recall, 1.0);
        close(m.precision_macro, (1.0 + 0.5 + 0.5) / 3.0);
        close(m.recall_macro, (2.0 / 3.0 + 0.5 + 1.0) / 3.0);
        close(m.f1_macro, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
        close(m.precision_weighted, (3.0 * 1.0 + 2.0 * 0.5 + 0.5) / 6.0);
        close(m.recall_weighted, 4.0 / 6.0);
        close(m.f1_weighted, (3.0 * 0.8 + 2.0 * 0.5 + 2.0 / 3.0) / 6.0);
        // Two right at 0.8, the rest right-label probability 0.1.
        close(
            m.loss,
            (4.0 * -(0.8f32 as f64).ln() + 2.0 * -(0.1f32 as f64).ln()) / 6.0,
        );
        assert_eq!(m.confusion.matrix, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert_eq!(m.per_label["a"].support, 3);
    }

    #[test]
    fn a_never_predicted_label_has_zero_precision() {
        let labels = names(&["a", "b"]);
        let probs = vec![vec![0.9, 0.1], vec![0.9, 0.1]];
        let m = Metrics::compute(&labels, &[0, 1], &probs, &[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        assert_eq!(m.per_label["b"].precision, 0.0);
        assert_eq!(m.per_label["b"].f1, 0.0);
        assert!((m.precision_macro - 0.25).abs() < 1e-12);
    }

    /// Two tight, orthogonal groups: a ~ 1 - small, checked by hand.
    /// Points a: (1,0),(1,0); b: (0,1),(0,1): intra distance 0, inter 1, so s = 1 for all.
    /// Mixed: a: (1,0),(0,1); b: (1,0),(0,1): a = 1, b = 0.5, s = (0.5 - 1)/1 = -0.5.
    #[test]
    fn silhouette_hand_checked() {
        let tight = vec![vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 1.0]];
        assert!((silhouette(&tight, &[0, 0, 1, 1]).unwrap() - 1.0).abs() < 1e-6);
        let mixed = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0], vec![0.0, 1.0]];
        assert!((silhouette(&mixed, &[0, 0, 1, 1]).unwrap() + 0.5).abs() < 1e-6);
        assert_eq!(silhouette(&tight, &[0, 0, 0, 0]).unwrap(), 0.0);
        // A singleton label scores 0 for its row: (1 + 1 + 0) / 3 ... rows of label 0 still see it.
        let s = silhouette(&[vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 1.0]], &[0, 0, 1]).unwrap();
        assert!((s - 2.0 / 3.0).abs() < 1e-6, "{s}");
    }

    /// Points 0 and 1 at x = 0 and 1 (label 0), point 2 at x = 4 (label 1).
    /// Row 0: a = 1, b = 4, s = 3/4. Row 1: a = 1, b = 3, s = 2/3. Row 2 is alone: 0.
    #[test]
    fn euclidean_silhouette_hand_checked() {
        let s = silhouette_euclidean(&[[0.0, 0.0], [1.0, 0.0], [4.0, 0.0]], &[0, 0, 1]);
        assert!((s - (0.75 + 2.0 / 3.0) / 3.0).abs() < 1e-12, "{s}");
    }
}
