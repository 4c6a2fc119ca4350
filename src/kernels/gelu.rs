//! GELU with the exact (erf) form, `x Φ(x)`, and its derivative `Φ(x) + x φ(x)`.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::rows::par_rows;
use super::{by_dtype, eligible, input, reference, Elem};

/// Element-wise work is cut into virtual rows of this many elements for the thread pool.
const SPAN: usize = 1024;

/// `x Φ(x)`: BERT's `gelu`, as PyTorch's `F.gelu` computes it.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if !eligible(x) {
        return reference::gelu_erf(x);
    }
    x.contiguous()?.apply_op1(Gelu)
}

/// `y <- y Φ(y)` element by element: the op's arithmetic, for an output the caller owns (a
/// frozen linear layer's product, so its GELU needs no second buffer).
pub(crate) fn gelu_in_place<T: Elem>(y: &mut [T]) {
    par_rows(
        y,
        SPAN,
        #[inline(always)]
        |_, out| {
            for o in out.iter_mut() {
                let cdf = o.phi().0;
                *o *= cdf;
            }
        },
    );
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "attune-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Elem>(s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
            let x = input::<T>(s, l, "gelu")?;
            let mut y = x.to_vec();
            gelu_in_place(&mut y);
            Ok((T::to_cpu_storage_owned(y), l.shape().clone()))
        }
        by_dtype!("gelu", s, run(s, l))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(&grad.contiguous()?, &GeluGrad)?))
    }
}

/// `(x, dy) -> dy (Φ(x) + x φ(x))`.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "attune-gelu-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Elem>(s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
            let x = input::<T>(s1, l1, "gelu backward")?;
            let g = input::<T>(s2, l2, "gelu backward")?;
            let mut dx = vec![T::zero(); x.len()];
            par_rows(
                &mut dx,
                SPAN,
                #[inline(always)]
                |r0, out| {
                    let span = r0 * SPAN..r0 * SPAN + out.len();
                    for ((o, &v), &dy) in out.iter_mut().zip(&x[span.clone()]).zip(&g[span]) {
                        let (cdf, pdf) = v.phi();
                        *o = dy * (cdf + v * pdf);
                    }
                },
            );
            Ok((T::to_cpu_storage_owned(dx), l1.shape().clone()))
        }
        by_dtype!("gelu backward", s1, run(s1, l1, s2, l2))
    }
}
