//! Attention's masked softmax in one pass per row: `softmax(scale * s + bias)`, where `bias`
//! holds one additive mask row per sequence (0 for tokens, a large negative for padding).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::math::{fold2, sum2};
use super::rows::par_rows;
use super::{by_dtype, eligible, input, reference, Elem};

/// `softmax(scale * scores + bias)` over the last dimension. `scores` is (batch, ..., keys);
/// `bias` is (batch, keys) and is a constant (it gets no gradient).
pub fn masked_softmax(scores: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
    let (b, k) = bias.dims2()?;
    let dims = scores.dims();
    if dims.first() != Some(&b) || dims.last() != Some(&k) {
        return Err(candle_core::Error::Msg(format!(
            "masked softmax: scores {dims:?} do not match a ({b}, {k}) mask"
        )));
    }
    if !eligible(scores) || bias.dtype() != scores.dtype() {
        return reference::masked_softmax(scores, bias, scale);
    }
    scores
        .contiguous()?
        .apply_op2(&bias.detach().contiguous()?, MaskedSoftmax { scale })
}

struct MaskedSoftmax {
    scale: f64,
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "attune-masked-softmax"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Elem>(
            scale: f64,
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            let x = input::<T>(s1, l1, "masked softmax")?;
            let bias = input::<T>(s2, l2, "masked softmax")?;
            let k = *l1.dims().last().unwrap_or(&1);
            let batch = l1.dims().first().copied().unwrap_or(1);
            if k == 0 || bias.len() != batch * k {
                return Err(candle_core::Error::Msg("masked softmax: bad mask shape".into()));
            }
            let rows_per_seq = (x.len() / k / batch.max(1)).max(1);
            let scale = T::from_f64(scale);
            let mut y = vec![T::zero(); x.len()];
            par_rows(
                &mut y,
                k,
                #[inline(always)]
                |r0, out| {
                    for (i, row) in out.chunks_mut(k).enumerate() {
                        let r = r0 + i;
                        let xs = &x[r * k..(r + 1) * k];
                        let bs = &bias[(r / rows_per_seq) * k..(r / rows_per_seq + 1) * k];
                        for ((o, &v), &m) in row.iter_mut().zip(xs).zip(bs) {
                            *o = scale * v + m;
                        }
                        let bigger = |a: T, v: T| if v > a { v } else { a };
                        let max = fold2(row, row, T::neg_infinity(), |a, v, _| bigger(a, v), bigger);
                        row.iter_mut().for_each(|o| *o = (*o - max).exp_());
                        let sum = sum2(row, row, |v, _| v);
                        let inv = T::one() / sum;
                        row.iter_mut().for_each(|o| *o *= inv);
                    }
                },
            );
            Ok((T::to_cpu_storage_owned(y), l1.shape().clone()))
        }
        by_dtype!("masked softmax", s1, run(self.scale, s1, l1, s2, l2))
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        _bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let ds = res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad { scale: self.scale })?;
        Ok((Some(ds), None))
    }
}

/// `(y, dy) -> scale * y * (dy - <dy, y>)` per row.
struct SoftmaxGrad {
    scale: f64,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "attune-masked-softmax-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Elem>(
            scale: f64,
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            let y = input::<T>(s1, l1, "masked softmax backward")?;
            let g = input::<T>(s2, l2, "masked softmax backward")?;
            let k = *l1.dims().last().unwrap_or(&1);
            if k == 0 || g.len() != y.len() {
                return Err(candle_core::Error::Msg("masked softmax backward: shapes differ".into()));
            }
            let scale = T::from_f64(scale);
            let mut dx = vec![T::zero(); y.len()];
            par_rows(
                &mut dx,
                k,
                #[inline(always)]
                |r0, out| {
                    for (i, row) in out.chunks_mut(k).enumerate() {
                        let span = (r0 + i) * k..(r0 + i + 1) * k;
                        let (ys, gs) = (&y[span.clone()], &g[span]);
                        let dot = sum2(ys, gs, |a, b| a * b);
                        for ((o, &yv), &gv) in row.iter_mut().zip(ys).zip(gs) {
                            *o = scale * yv * (gv - dot);
                        }
                    }
                },
            );
            Ok((T::to_cpu_storage_owned(dx), l1.shape().clone()))
        }
        by_dtype!("masked softmax backward", s1, run(self.scale, s1, l1, s2, l2))
    }
}
