//! Layer normalisation over the last dimension, forward and backward, one row at a time.
//! The backward pass recomputes each row's mean and deviation instead of keeping them: a row
//! is a few hundred floats, cheaper to reread than to store for every layer.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::math::sum2;
use super::rows::{par_rows, par_rows_sum};
use super::{by_dtype, eligible, input, reference, Elem};

/// `(x - mean) / sqrt(var + eps) * weight + bias` over the last dimension.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let n = x.dim(candle_core::D::Minus1)?;
    if weight.dims() != [n] || bias.dims() != [n] {
        return Err(candle_core::Error::Msg(format!(
            "layer norm: weight {:?} and bias {:?} must both be [{n}]",
            weight.dims(),
            bias.dims()
        )));
    }
    if !eligible(x) || weight.dtype() != x.dtype() || bias.dtype() != x.dtype() {
        return reference::layer_norm(x, weight, bias, eps);
    }
    x.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, LayerNorm { eps })
}

/// A row's mean and `1 / sqrt(var + eps)`, in two passes (no cancellation).
#[inline(always)]
fn moments<T: Elem>(x: &[T], eps: T) -> (T, T) {
    let n = T::from_f64(x.len() as f64);
    let mean = sum2(x, x, |v, _| v) / n;
    let var = sum2(x, x, |v, _| (v - mean) * (v - mean)) / n;
    (mean, T::one() / (var + eps).sqrt())
}

/// Each row of `y` (rows of `w.len()`) normalised in place: the op's arithmetic, for an output
/// the caller owns (a frozen linear layer's product plus its residual).
pub(crate) fn layer_norm_in_place<T: Elem>(y: &mut [T], w: &[T], b: &[T], eps: f64) {
    let n = w.len();
    let eps = T::from_f64(eps);
    par_rows(
        y,
        n,
        #[inline(always)]
        |_, out| {
            for row in out.chunks_mut(n) {
                let (mean, rstd) = moments(row, eps);
                for ((o, &wv), &bv) in row.iter_mut().zip(w).zip(b) {
                    *o = (*o - mean) * rstd * wv + bv;
                }
            }
        },
    );
}

struct LayerNorm {
    eps: f64,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "attune-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        #[allow(clippy::too_many_arguments)]
        fn run<T: Elem>(
            eps: f64,
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
            s3: &CpuStorage,
            l3: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            let x = input::<T>(s1, l1, "layer norm")?;
            let w = input::<T>(s2, l2, "layer norm")?;
            let b = input::<T>(s3, l3, "layer norm")?;
            let n = w.len();
            if n == 0 || x.len() % n != 0 || b.len() != n {
                return Err(candle_core::Error::Msg("layer norm: bad shapes".into()));
            }
            let mut y = x.to_vec();
            layer_norm_in_place(&mut y, w, b, eps);
            Ok((T::to_cpu_storage_owned(y), l1.shape().clone()))
        }
        by_dtype!("layer norm", s1, run(self.eps, s1, l1, s2, l2, s3, l3))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let n = weight.elem_count();
        let len = x.elem_count();
        let all = x.apply_op3_no_bwd(weight, &grad.contiguous()?, &LayerNormGrad { eps: self.eps })?;
        let dx = all.narrow(0, 0, len)?.reshape(x.shape())?;
        let dw = all.narrow(0, len, n)?;
        let db = all.narrow(0, len + n, n)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// `(x, weight, dy) -> [dx, dweight, dbias]`, flattened into one buffer so that one pass over
/// the rows yields all three.
struct LayerNormGrad {
    eps: f64,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "attune-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        #[allow(clippy::too_many_arguments)]
        fn run<T: Elem>(
            eps: f64,
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
            s3: &CpuStorage,
            l3: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            let x = input::<T>(s1, l1, "layer norm backward")?;
            let w = input::<T>(s2, l2, "layer norm backward")?;
            let g = input::<T>(s3, l3, "layer norm backward")?;
            let n = w.len();
            if n == 0 || x.len() % n != 0 || g.len() != x.len() {
                return Err(candle_core::Error::Msg("layer norm backward: bad shapes".into()));
            }
            let eps = T::from_f64(eps);
            let inv_n = T::one() / T::from_f64(n as f64);
            let mut out = vec![T::zero(); x.len() + 2 * n];
            let (dx, params) = out.split_at_mut(x.len());
            let sums = par_rows_sum(
                dx,
                n,
                2 * n,
                #[inline(always)]
                |r0, chunk| {
                    let mut acc = vec![T::zero(); 2 * n];
                    let mut scratch = vec![T::zero(); n];
                    let (dw, db) = acc.split_at_mut(n);
                    for (i, row) in chunk.chunks_mut(n).enumerate() {
                        let span = (r0 + i) * n..(r0 + i + 1) * n;
                        let (xs, gs) = (&x[span.clone()], &g[span]);
                        let (mean, rstd) = moments(xs, eps);
                        for (((&xv, &gv), dwv), dbv) in xs.iter().zip(gs).zip(dw.iter_mut()).zip(db.iter_mut()) {
                            *dwv += gv * (xv - mean) * rstd;
                            *dbv += gv;
                        }
                        // sum(dy * w) and sum(dy * w * xhat), with gw = dy * w precomputed per row.
                        let gw: &mut [T] = &mut scratch;
                        gw.iter_mut().zip(gs).zip(w).for_each(|((o, &gv), &wv)| *o = gv * wv);
                        let sum_gw = sum2(gw, gw, |v, _| v);
                        let sum_gw_xhat = sum2(gw, xs, |gv, xv| gv * (xv - mean) * rstd);
                        let (m1, m2) = (sum_gw * inv_n, sum_gw_xhat * inv_n);
                        for (((o, &xv), &gv), &wv) in row.iter_mut().zip(xs).zip(gs).zip(w) {
                            let xhat = (xv - mean) * rstd;
                            *o = rstd * (gv * wv - m1 - xhat * m2);
                        }
                    }
                    acc
                },
            );
            params.copy_from_slice(&sums);
            let len = out.len();
            Ok((T::to_cpu_storage_owned(out), Shape::from(len)))
        }
        by_dtype!("layer norm backward", s1, run(self.eps, s1, l1, s2, l2, s3, l3))
    }
}
