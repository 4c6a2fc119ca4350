//! Label-aware losses on a batch of sentence embeddings.
//!
//! - [`supervised_contrastive`]: every row is an anchor; all rows of its label in the batch are
//!   positives, all others negatives (Khosla et al., 2020). A batch of B rows gives B(B-1) pairs
//!   for B forward passes.
//! - [`cosine_pair_loss`]: SetFit's recipe: mean squared error between the cosine of a pair and
//!   its target (1 for the same label, 0 otherwise). Two forward passes per pair.

use candle_core::{Tensor, D};

use crate::error::{Error, Result};

/// Supervised contrastive loss of `emb` (B, d) with integer labels, at `temperature`. Rows are
/// scaled to unit length first. Anchors without a positive in the batch are left out.
pub fn supervised_contrastive(emb: &Tensor, labels: &[usize], temperature: f64) -> Result<Tensor> {
    let b = emb.dim(0)?;
    if labels.len() != b {
        return Err(Error::InvalidArgument(format!("{} labels for {b} rows", labels.len())));
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

/// SetFit's cosine-similarity loss: `a` and `b` (n, d) are the two sides of n pairs, `target`
/// their wanted cosine.
pub fn cosine_pair_loss(a: &Tensor, b: &Tensor, target: &[f32]) -> Result<Tensor> {
    let a = crate::encoder::pooling::normalize(a)?;
    let b = crate::encoder::pooling::normalize(b)?;
    let cos = (a * b)?.sum(1)?;
    let t = Tensor::from_slice(target, target.len(), cos.device())?.to_dtype(cos.dtype())?;
    Ok((cos - t)?.sqr()?.mean_all()?)
}

/// Integer ids of `labels` in the order of `names`.
pub fn label_ids(labels: &[&str], names: &[String]) -> Result<Vec<usize>> {
    labels
        .iter()
        .map(|l| {
            names
                .iter()
                .position(|n| n == l)
                .ok_or_else(|| Error::InvalidArgument(format!("unknown label {l:?}")))
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
