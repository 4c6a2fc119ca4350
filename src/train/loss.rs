//! Label-aware losses on a batch of sentence embeddings.
//!
//! - [`supervised_contrastive`]: every row is an anchor; all rows of its label in the batch are
//!   positives, all others negatives (Khosla et al., 2020). A batch of B rows gives B(B-1) pairs
//!   for B forward passes.
//! - [`cosine_pair_loss`]: SetFit's recipe: mean squared error between the cosine of a pair and
//!   its target (1 for the same label, 0 otherwise). Two forward passes per pair.
//! - [`head_cross_entropy`]: cross-entropy through a linear head trained with the encoder
//!   (SetFit's second, end-to-end phase; the head starts from the fitted logistic regression).
//! - [`head_bce`]: its multi-label twin, a sigmoid per label, class-weighted binary
//!   cross-entropy; [`in_batch_cosine_sets`]: the cosine objective with pair targets from the
//!   overlap of label sets (Jaccard), as SetFit's multi-label pairs.

use candle_core::{Tensor, D};

use crate::error::{Error, Result};

/// Supervised contrastive loss of `emb` (B, d) with integer labels, at `temperature`. Rows are
/// scaled to unit length first. Anchors without a positive in the batch are left out.
pub fn supervised_contrastive(emb: &Tensor, labels: &[usize], temperature: f64) -> Result<Tensor> {
    let b = emb.dim(0)?;
    if labels.len() != b {
        return Err(Error::Internal(format!("{} labels for {b} rows", labels.len())));
    }
    let dev = emb.device();
    let dtype = emb.dtype();
    let z = crate::encoder::pooling::normalize(emb)?;
    let sim = (z.matmul(&z.t()?)? / temperature)?;
    // Self-similarity is taken out of the softmax by a large negative on the diagonal.
    let eye = Tensor::eye(b, dtype, dev)?;
    let logits = (sim - (&eye * 1e9)?)?;
    let log_prob = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let mut pos = vec![0f32; b * b];
    let mut counts = vec![0f32; b];
    for i in 0..b {
        for j in 0..b {
            if i != j && labels[i] == labels[j] {
                pos[i * b + j] = 1.0;
                counts[i] += 1.0;
            }
        }
    }
    let anchors: Vec<f32> = counts.iter().map(|c| if *c > 0.0 { 1.0 } else { 0.0 }).collect();
    let n_anchors: f32 = anchors.iter().sum();
    if n_anchors == 0.0 {
        return Err(Error::InvalidArgument("no two rows of the batch share a label".into()));
    }
    let pos = Tensor::from_vec(pos, (b, b), dev)?.to_dtype(dtype)?;
    let inv_counts: Vec<f32> = counts.iter().map(|c| if *c > 0.0 { 1.0 / c } else { 0.0 }).collect();
    let inv_counts = Tensor::from_vec(inv_counts, b, dev)?.to_dtype(dtype)?;
    let per_anchor = (pos * log_prob)?.sum(1)?.mul(&inv_counts)?;
    Ok((per_anchor.sum_all()? * (-1.0 / n_anchors as f64))?)
}

/// SetFit's cosine objective over every pair of a batch: the squared error between each pair's
/// cosine and its target (1 for the same label, 0 otherwise), positives and negatives weighted
/// equally. B rows give B(B-1)/2 pairs for B forward passes, where SetFit's own batches give B/2.
pub fn in_batch_cosine(emb: &Tensor, labels: &[usize]) -> Result<Tensor> {
    let b = emb.dim(0)?;
    if labels.len() != b {
        return Err(Error::Internal(format!("{} labels for {b} rows", labels.len())));
    }
    in_batch_cosine_targets(emb, |i, j| if labels[i] == labels[j] { 1.0 } else { 0.0 })
}

/// The in-batch cosine objective for label sets: a pair's target is the Jaccard overlap of its
/// sets (1 for two empty sets); pairs that share a label are the positive side.
pub fn in_batch_cosine_sets(emb: &Tensor, sets: &[&[usize]]) -> Result<Tensor> {
    let b = emb.dim(0)?;
    if sets.len() != b {
        return Err(Error::Internal(format!("{} label sets for {b} rows", sets.len())));
    }
    in_batch_cosine_targets(emb, |i, j| jaccard(sets[i], sets[j]))
}

/// |a ∩ b| / |a ∪ b|, 1 for two empty sets.
pub fn jaccard(a: &[usize], b: &[usize]) -> f32 {
    let inter = a.iter().filter(|x| b.contains(x)).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        1.0
    } else {
        inter as f32 / union as f32
    }
}

fn in_batch_cosine_targets(emb: &Tensor, target_of: impl Fn(usize, usize) -> f32) -> Result<Tensor> {
    let b = emb.dim(0)?;
    let pairs: Vec<(usize, usize, f32)> = (0..b)
        .flat_map(|i| (i + 1..b).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, target_of(i, j)))
        .collect();
    let z = crate::encoder::pooling::normalize(emb)?;
    let sim = z.matmul(&z.t()?)?;
    let n_pos = pairs.iter().filter(|p| p.2 > 0.0).count() as f32;
    let n_neg = pairs.len() as f32 - n_pos;
    // Each side gets half the weight; a batch without one side puts all weight on the other.
    let (wp, wn) = match (n_pos > 0.0, n_neg > 0.0) {
        (true, true) => (0.5 / n_pos, 0.5 / n_neg),
        (true, false) => (1.0 / n_pos, 0.0),
        (false, true) => (0.0, 1.0 / n_neg),
        (false, false) => return Err(Error::InvalidArgument("a batch needs at least two rows".into())),
    };
    let mut target = vec![0f32; b * b];
    let mut weight = vec![0f32; b * b];
    for &(i, j, t) in &pairs {
        target[i * b + j] = t;
        weight[i * b + j] = if t > 0.0 { wp } else { wn };
    }
    let dev = emb.device();
    let target = Tensor::from_vec(target, (b, b), dev)?.to_dtype(emb.dtype())?;
    let weight = Tensor::from_vec(weight, (b, b), dev)?.to_dtype(emb.dtype())?;
    Ok(((sim - target)?.sqr()? * weight)?.sum_all()?)
}

/// SetFit's cosine-similarity loss: `a` and `b` (n, d) are the two sides of n pairs, `target`
/// their wanted cosine.
pub fn cosine_pair_loss(a: &Tensor, b: &Tensor, target: &[f32]) -> Result<Tensor> {
    let a = crate::encoder::pooling::normalize(a)?;
    let b = crate::encoder::pooling::normalize(b)?;
    let cos = (a * b)?.sum(1)?;
    let t = Tensor::from_slice(target, target.len(), cos.device())?.to_dtype(cos.dtype())?;
    Ok((cos - t)?.sqr()?.mean_all()?)
}

/// Mean cross-entropy of `emb` (B, d) through the linear head `weight` (k, d), `bias` (k)
/// against integer labels.
pub fn head_cross_entropy(emb: &Tensor, weight: &Tensor, bias: &Tensor, labels: &[usize]) -> Result<Tensor> {
    let b = emb.dim(0)?;
    let k = weight.dim(0)?;
    if labels.len() != b {
        return Err(Error::Internal(format!("{} labels for {b} rows", labels.len())));
    }
    if let Some(bad) = labels.iter().find(|l| **l >= k) {
        return Err(Error::InvalidArgument(format!(
            "label id {bad} for a head of {k} labels"
        )));
    }
    let logits = emb.matmul(&weight.t()?)?.broadcast_add(bias)?;
    let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let ids: Vec<u32> = labels.iter().map(|l| *l as u32).collect();
    let ids = Tensor::from_vec(ids, (b, 1), emb.device())?;
    Ok((logp.gather(&ids, 1)?.sum_all()? * (-1.0 / b as f64))?)
}

/// Elementwise binary cross-entropy of logits `z` against targets `y` in [0, 1]:
/// `softplus(z) - y z`, computed without overflow as `relu(z) - y z + ln(1 + e^-|z|)`.
pub fn bce_with_logits_terms(z: &Tensor, y: &Tensor) -> Result<Tensor> {
    let log1p = (z.abs()?.neg()?.exp()? + 1.0)?.log()?;
    Ok(((z.relu()? - (y * z)?)? + log1p)?)
}

/// The multi-label loss through the linear head `weight` (k, d), `bias` (k): per label a
/// sigmoid, binary cross-entropy weighted `pos_weight[j]` on positives and `neg_weight[j]` on
/// negatives, summed over labels and averaged over rows (so its scale matches the single-label
/// cross-entropy's). `targets` is multi-hot, row-major (B, k).
pub fn head_bce(
    emb: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    targets: &[f32],
    (pos_weight, neg_weight): (&[f32], &[f32]),
) -> Result<Tensor> {
    let (b, k) = (emb.dim(0)?, weight.dim(0)?);
    if targets.len() != b * k || pos_weight.len() != k || neg_weight.len() != k {
        return Err(Error::Internal(format!(
            "{} targets and {} weights for {b} rows of {k} labels",
            targets.len(),
            pos_weight.len()
        )));
    }
    let dev = emb.device();
    let y = Tensor::from_slice(targets, (b, k), dev)?.to_dtype(emb.dtype())?;
    let w: Vec<f32> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| if *t > 0.5 { pos_weight[i % k] } else { neg_weight[i % k] })
        .collect();
    let w = Tensor::from_vec(w, (b, k), dev)?.to_dtype(emb.dtype())?;
    let z = emb.matmul(&weight.t()?)?.broadcast_add(bias)?;
    Ok(((bce_with_logits_terms(&z, &y)? * w)?.sum_all()? * (1.0 / b as f64))?)
}

/// Integer ids of `labels` in the order of `names`.
pub fn label_ids(labels: &[&str], names: &[String]) -> Result<Vec<usize>> {
    labels
        .iter()
        .map(|l| {
            names
                .iter()
                .position(|n| n == l)
                .ok_or_else(|| Error::Internal(format!("unknown label {l:?}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// SupCon on 4 unit vectors, checked against the formula computed by hand:
    /// rows 0,1 share label 0; rows 2,3 share label 1; each anchor has exactly one positive.
    #[test]
    fn supcon_matches_hand_computation() {
        let rows = [[1f32, 0.], [0.8, 0.6], [0., 1.], [-0.6, 0.8]];
        let emb = Tensor::new(&rows, &Device::Cpu).unwrap();
        let t = 0.5;
        let got = supervised_contrastive(&emb, &[0, 0, 1, 1], t)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let dot = |i: usize, j: usize| (rows[i][0] * rows[j][0] + rows[i][1] * rows[j][1]) as f64 / t;
        let mut want = 0.0;
        for (i, p) in [(0, 1), (1, 0), (2, 3), (3, 2)] {
            let denom: f64 = (0..4).filter(|a| *a != i).map(|a| dot(i, a).exp()).sum();
            want += -(dot(i, p).exp() / denom).ln();
        }
        want /= 4.0;
        assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn supcon_falls_when_labels_cluster() {
        let good = Tensor::new(&[[1f32, 0.], [0.99, 0.1], [0., 1.], [0.1, 0.99]], &Device::Cpu).unwrap();
        let bad = Tensor::new(&[[1f32, 0.], [0., 1.], [0.99, 0.1], [0.1, 0.99]], &Device::Cpu).unwrap();
        let l = |e: &Tensor| {
            supervised_contrastive(e, &[0, 0, 1, 1], 0.1)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(l(&good) < l(&bad));
    }

    /// Rows 0,1 label 0 (cos 0.8 apart); row 2 label 1, orthogonal to row 0, cos 0.6 to row 1.
    /// One positive pair: (0.8 - 1)^2 = 0.04; two negatives: (0^2 + 0.6^2) / 2 = 0.18.
    /// Equal weights: 0.5 * 0.04 + 0.5 * 0.18 = 0.11.
    #[test]
    fn in_batch_cosine_hand_checked() {
        let emb = Tensor::new(&[[1f32, 0.], [0.8, 0.6], [0., 1.]], &Device::Cpu).unwrap();
        let l = in_batch_cosine(&emb, &[0, 0, 1]).unwrap().to_scalar::<f32>().unwrap();
        assert!((l - 0.11).abs() < 1e-6, "{l}");
    }

    /// Two rows, two labels, a head that scores row 0 as (ln 3, 0) and row 1 as (0, 0):
    /// -ln(3/4) for row 0 (label 0) and -ln(1/2) for row 1 (label 1), averaged.
    #[test]
    fn head_cross_entropy_hand_checked() {
        let emb = Tensor::new(&[[1f32, 0.], [0., 1.]], &Device::Cpu).unwrap();
        let w = Tensor::new(&[[3f32.ln(), 0.], [0., 0.]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0f32, 0.], &Device::Cpu).unwrap();
        let l = head_cross_entropy(&emb, &w, &b, &[0, 1])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let want = (-(0.75f64).ln() - (0.5f64).ln()) / 2.0;
        assert!((l as f64 - want).abs() < 1e-6, "{l} vs {want}");
        assert!(head_cross_entropy(&emb, &w, &b, &[0, 2]).is_err());
    }

    /// One row, two labels, logits (ln 3, 0) and targets (1, 0): -ln(3/4) - ln(1/2), with
    /// weights 2 on the positive and 0.5 on the negative.
    #[test]
    fn head_bce_hand_checked() {
        let emb = Tensor::new(&[[1f32, 0.]], &Device::Cpu).unwrap();
        let w = Tensor::new(&[[3f32.ln(), 0.], [0., 0.]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0f32, 0.], &Device::Cpu).unwrap();
        let l = head_bce(&emb, &w, &b, &[1.0, 0.0], (&[2.0, 2.0], &[0.5, 0.5]))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let want = -2.0 * (0.75f64).ln() - 0.5 * (0.5f64).ln();
        assert!((l as f64 - want).abs() < 1e-6, "{l} vs {want}");
        // Large logits stay finite.
        let z = Tensor::new(&[[200f32, -200.]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[[0f32, 1.]], &Device::Cpu).unwrap();
        let t: Vec<f32> = bce_with_logits_terms(&z, &y)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!((t[0] - 200.0).abs() < 1e-3 && (t[1] - 200.0).abs() < 1e-3, "{t:?}");
    }

    /// The gradient of the multi-label loss, by backprop against central finite differences in
    /// f64, for the embeddings and both head tensors.
    #[test]
    fn head_bce_gradients_match_finite_differences() {
        use candle_core::{DType, Var};
        let dev = Device::Cpu;
        let vals = |n: usize, s: f64| -> Vec<f64> { (0..n).map(|i| ((i * 7 % 5) as f64 - 2.0) * s).collect() };
        let emb = Var::from_tensor(&Tensor::from_vec(vals(6, 0.3), (2, 3), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::from_vec(vals(9, 0.2), (3, 3), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::from_vec(vec![0.1f64, -0.2, 0.3], 3, &dev).unwrap()).unwrap();
        let targets = [1.0f32, 0.0, 1.0, 0.0, 0.0, 0.0];
        let weights: (&[f32], &[f32]) = (&[2.0, 1.5, 1.0], &[0.5, 0.75, 1.0]);
        let loss = |e: &Tensor, w: &Tensor, b: &Tensor| -> f64 {
            head_bce(e, w, b, &targets, weights)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let grads = head_bce(emb.as_tensor(), w.as_tensor(), b.as_tensor(), &targets, weights)
            .unwrap()
            .backward()
            .unwrap();
        for (which, var) in [(0, &emb), (1, &w), (2, &b)] {
            let g = grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            for i in 0..base.len() {
                let at = |d: f64| {
                    let mut v = base.clone();
                    v[i] += d;
                    let t = Tensor::from_vec(v, var.as_tensor().shape(), &dev).unwrap();
                    match which {
                        0 => loss(&t, w.as_tensor(), b.as_tensor()),
                        1 => loss(emb.as_tensor(), &t, b.as_tensor()),
                        _ => loss(emb.as_tensor(), w.as_tensor(), &t),
                    }
                };
                let h = 1e-6;
                let num = (at(h) - at(-h)) / (2.0 * h);
                assert!((num - g[i]).abs() < 1e-7, "tensor {which}[{i}]: {num} vs {}", g[i]);
            }
        }
        assert_eq!(emb.as_tensor().dtype(), DType::F64);
    }

    /// Sets {0}, {0,1}, {}: targets 1/2 (rows 0,1), 0 (0,2), 0 (1,2). The rows are unit
    /// vectors at cosines 0.8 (0,1), 0 (0,2), 0.6 (1,2): positive side (0.8-0.5)^2 = 0.09,
    /// negative side (0 + 0.36)/2 = 0.18, half each: 0.135.
    #[test]
    fn in_batch_cosine_sets_uses_jaccard_targets() {
        let emb = Tensor::new(&[[1f32, 0.], [0.8, 0.6], [0., 1.]], &Device::Cpu).unwrap();
        let sets: [&[usize]; 3] = [&[0], &[0, 1], &[]];
        let l = in_batch_cosine_sets(&emb, &sets).unwrap().to_scalar::<f32>().unwrap();
        assert!((l - 0.135).abs() < 1e-6, "{l}");
        assert_eq!(jaccard(&[], &[]), 1.0);
    }

    #[test]
    fn cosine_pair_loss_is_mse_of_cosines() {
        let a = Tensor::new(&[[1f32, 0.], [1., 0.]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[0f32, 2.], [3., 0.]], &Device::Cpu).unwrap();
        let l = cosine_pair_loss(&a, &b, &[1.0, 1.0])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 0.5).abs() < 1e-6);
    }
}
