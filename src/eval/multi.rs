//! Multi-label metrics: a row's prediction is the set of labels whose probability reaches the
//! label's threshold. Example-based scores (subset accuracy, the Hamming score) and label-based
//! ones (micro and macro precision/recall/F1, per label). A ratio with nothing to count is 0
//! (scikit-learn's `zero_division=0`), and macro averages run over the labels that occur in
//! truth or prediction (scikit-learn's `average="macro"` with `labels=` those labels; a label
//! absent from both would count 0 there with every label named).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::metrics::{Confusion, LabelMetrics, Metrics};
use crate::error::{Error, Result};

/// The figures only a multi-label model has; in [`Metrics`] beside the shared ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiLabelFigures {
    /// Rows whose predicted set is exactly the true set.
    pub subset_accuracy: f64,
    /// Mean over rows of |true ∩ predicted| / |true ∪ predicted| (1 where both are empty): the
    /// hosted reference's "accuracy" of a multi-label model, and [`Metrics::accuracy`] here.
    pub hamming_score: f64,
    /// Share of (row, label) decisions that are wrong.
    pub hamming_loss: f64,
    pub precision_micro: f64,
    pub recall_micro: f64,
    pub f1_micro: f64,
    /// Mean over rows of | |predicted| - |true| |.
    pub cardinality_error: f64,
    /// Mean labels per row, true and predicted.
    pub true_cardinality: f64,
    pub predicted_cardinality: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

fn f1(p: f64, r: f64) -> f64 {
    ratio(2.0 * p * r, p + r)
}

/// Predicted label sets: label `j` where `probs[i][j] >= thresholds[j]`.
pub fn predict_sets(probs: &[Vec<f32>], thresholds: &[f32]) -> Vec<Vec<usize>> {
    probs
        .iter()
        .map(|p| (0..p.len()).filter(|&j| p[j] >= thresholds[j]).collect())
        .collect()
}

/// Metrics of `probs` (one row of per-label probabilities per input) against `truth` (label
/// ids of each row's set), deciding with `thresholds`; `silhouette` is the embeddings' score by
/// label set, computed by the caller.
pub fn compute_multi(
    labels: &[String],
    truth: &[Vec<usize>],
    probs: &[Vec<f32>],
    thresholds: &[f32],
    silhouette: f64,
) -> Result<Metrics> {
    let (n, k) = (truth.len(), labels.len());
    if n == 0 || probs.len() != n || thresholds.len() != k || probs.iter().any(|p| p.len() != k) {
        return Err(Error::InvalidArgument(
            "multi-label metrics need one probability per label and row, and one threshold per label".into(),
        ));
    }
    let pred = predict_sets(probs, thresholds);
    let (mut tp, mut fp, mut fn_) = (vec![0usize; k], vec![0usize; k], vec![0usize; k]);
    let (mut exact, mut jaccard, mut card_err, mut wrong) = (0usize, 0.0, 0.0, 0usize);
    let mut loss = 0.0;
    for ((t, p), pr) in truth.iter().zip(&pred).zip(probs) {
        let inter = p.iter().filter(|j| t.contains(j)).count();
        let union = t.len() + p.len() - inter;
        exact += usize::from(inter == t.len() && inter == p.len());
        jaccard += if union == 0 { 1.0 } else { inter as f64 / union as f64 };
        card_err += (p.len() as f64 - t.len() as f64).abs();
        wrong += union - inter;
        for j in 0..k {
            let (yt, yp) = (t.contains(&j), p.contains(&j));
            tp[j] += usize::from(yt && yp);
            fp[j] += usize::from(!yt && yp);
            fn_[j] += usize::from(yt && !yp);
            let q = (pr[j] as f64).clamp(1e-7, 1.0 - 1e-7);
            loss -= if yt { q.ln() } else { (1.0 - q).ln() };
        }
    }
    let (per_label, unweighted, weighted) = by_label(labels, &tp, &fp, &fn_);
    let (stp, sfp, sfn) = (
        tp.iter().sum::<usize>() as f64,
        fp.iter().sum::<usize>() as f64,
        fn_.iter().sum::<usize>() as f64,
    );
    let (p_micro, r_micro) = (ratio(stp, stp + sfp), ratio(stp, stp + sfn));
    let nf = n as f64;
    let figures = MultiLabelFigures {
        subset_accuracy: exact as f64 / nf,
        hamming_score: jaccard / nf,
        hamming_loss: wrong as f64 / (nf * k as f64),
        precision_micro: p_micro,
        recall_micro: r_micro,
        f1_micro: f1(p_micro, r_micro),
        cardinality_error: card_err / nf,
        true_cardinality: truth.iter().map(Vec::len).sum::<usize>() as f64 / nf,
        predicted_cardinality: pred.iter().map(Vec::len).sum::<usize>() as f64 / nf,
    };
    Ok(Metrics {
        accuracy: figures.hamming_score,
        loss: loss / (nf * k as f64),
        precision_macro: unweighted[0],
        recall_macro: unweighted[1],
        f1_macro: unweighted[2],
        precision_weighted: weighted[0],
        recall_weighted: weighted[1],
        f1_weighted: weighted[2],
        silhouette,
        per_label,
        confusion: Confusion {
            labels: Vec::new(),
            matrix: Vec::new(),
        },
        rows: n,
        multi_label: Some(figures),
    })
}

/// Per-label precision, recall and F1 from the counts, and their macro (unweighted over labels
/// that occur in truth or prediction) and support-weighted averages.
fn by_label(
    labels: &[String],
    tp: &[usize],
    fp: &[usize],
    fn_: &[usize],
) -> (BTreeMap<String, LabelMetrics>, [f64; 3], [f64; 3]) {
    let mut per_label = BTreeMap::new();
    let (mut macro_, mut weighted, mut present) = ([0.0; 3], [0.0; 3], 0usize);
    let support_all: usize = tp.iter().zip(fn_).map(|(a, b)| a + b).sum();
    for (j, name) in labels.iter().enumerate() {
        let support = tp[j] + fn_[j];
        if support == 0 && tp[j] + fp[j] == 0 {
            continue;
        }
        let p = ratio(tp[j] as f64, (tp[j] + fp[j]) as f64);
        let r = ratio(tp[j] as f64, support as f64);
        let f = f1(p, r);
        present += 1;
        let w = ratio(support as f64, support_all as f64);
        for (i, v) in [p, r, f].into_iter().enumerate() {
            macro_[i] += v;
            weighted[i] += w * v;
        }
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
    (per_label, macro_.map(|v| v / m), weighted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels a b c; thresholds 0.5. Rows (truth -> predicted):
    ///   {a}   -> {a}      exact, J = 1
    ///   {a,b} -> {a}      J = 1/2
    ///   {}    -> {}       exact, J = 1
    ///   {c}   -> {b}      J = 0
    /// a: tp 2 fp 0 fn 0 -> P 1 R 1 F 1; b: tp 0 fp 1 fn 1 -> 0 0 0; c: tp 0 fp 0 fn 1 -> 0 0 0.
    /// micro: tp 2, fp 1, fn 2 -> P 2/3, R 1/2, F 4/7.
    #[test]
    fn hand_computed() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let truth = vec![vec![0], vec![0, 1], vec![], vec![2]];
        let probs = vec![
            vec![0.9, 0.1, 0.2],
            vec![0.8, 0.4, 0.1],
            vec![0.1, 0.2, 0.3],
            vec![0.2, 0.7, 0.4],
        ];
        let m = compute_multi(&labels, &truth, &probs, &[0.5; 3], 0.0).unwrap();
        let f = m.multi_label.clone().unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        close(f.subset_accuracy, 0.5);
        close(f.hamming_score, (1.0 + 0.5 + 1.0 + 0.0) / 4.0);
        close(m.accuracy, f.hamming_score);
        close(f.hamming_loss, 3.0 / 12.0);
        close(f.precision_micro, 2.0 / 3.0);
        close(f.recall_micro, 0.5);
        close(f.f1_micro, 4.0 / 7.0);
        close(m.precision_macro, 1.0 / 3.0);
        close(m.f1_macro, 1.0 / 3.0);
        close(f.cardinality_error, (0.0 + 1.0 + 0.0 + 0.0) / 4.0);
        close(f.true_cardinality, 1.0);
        close(f.predicted_cardinality, 0.75);
        assert_eq!(m.per_label["b"].support, 1);
        let ln = |x: f64| x.ln();
        let want = -(ln(0.9)
            + ln(0.9)
            + ln(0.8)
            + ln(0.8)
            + ln(0.4)
            + ln(0.9)
            + ln(0.9)
            + ln(0.8)
            + ln(0.7)
            + ln(0.8)
            + ln(0.3)
            + ln(0.4))
            / 12.0;
        // The probabilities are f32.
        assert!((m.loss - want).abs() < 1e-6, "{} vs {want}", m.loss);
        // A lower threshold on b turns row 2 exact.
        let m = compute_multi(&labels, &truth, &probs, &[0.5, 0.35, 0.5], 0.0).unwrap();
        close(m.multi_label.unwrap().subset_accuracy, 0.75);
    }

    /// The multi-label figures travel inside `Metrics` (flattened) and come back; a
    /// single-label `Metrics` has none of them.
    #[test]
    fn metrics_round_trip_through_json() {
        let labels: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let m = compute_multi(
            &labels,
            &[vec![0], vec![]],
            &[vec![0.9, 0.2], vec![0.1, 0.3]],
            &[0.5, 0.5],
            0.0,
        )
        .unwrap();
        let v = serde_json::to_value(&m).unwrap();
        assert!(
            v["hamming_score"].is_number() && v["subset_accuracy"].is_number(),
            "{v}"
        );
        let back: Metrics = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        let single = Metrics::compute(
            &labels,
            &[0, 1],
            &[vec![0.9, 0.1], vec![0.2, 0.8]],
            &[vec![1.0, 0.0], vec![0.0, 1.0]],
        )
        .unwrap();
        let v = serde_json::to_value(&single).unwrap();
        assert!(v.get("hamming_score").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<Metrics>(v).unwrap().multi_label, None);
    }

    #[test]
    fn shapes_are_checked() {
        let labels = vec!["a".to_string()];
        assert!(compute_multi(&labels, &[vec![0]], &[vec![0.1, 0.2]], &[0.5], 0.0).is_err());
        assert!(compute_multi(&labels, &[], &[], &[0.5], 0.0).is_err());
    }
}
