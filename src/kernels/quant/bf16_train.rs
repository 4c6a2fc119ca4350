//! `x W^T` in bf16 for training: the operands of the forward and of both backward products are
//! rounded to bf16 and the products summed in f32, while the weights, their gradients and the
//! optimizer's state stay f32 (the master copy). Unlike PyTorch's autocast the products are not
//! rounded back to bf16, so the only loss of precision is in the operands.
//!
//! Two ways to the same numbers: the operands rounded in f32 storage and multiplied by candle's
//! f32 GEMM ([`Bf16Strategy::Rounded`], the default), which is exact for them (a product of two
//! bf16 values is exact in f32); or the bf16 kernels forward and backward
//! ([`Bf16Strategy::Kernels`]). Rounded was measured faster on AVX2 (a MiniLM training step of 32
//! sentences on Zen 2: 1.22 s with the kernels against 0.97 s in f32 in one run; 0.93 s rounded
//! against 0.88 s in f32 in another), and on a CPU with `vdpbf16ps` too (an Emerald Rapids Xeon:
//! 1.25 s with the kernels, 0.88 s rounded, where `vdpbf16ps` issues at two thirds of an FMA's
//! rate), so they run only when `ATTUNE_BF16_TRAIN_KERNELS=1` asks for them on such a CPU.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::bf16::round_into;
use super::{bf16_paths, widest, Bf16Weight, Path};
use crate::kernels::input;

/// How a training product in bf16 is computed (the same values either way, up to the order of
/// the f32 sums).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bf16Strategy {
    /// The bf16 kernels, forward and backward.
    Kernels,
    /// Operands rounded to bf16 in f32 storage, multiplied by candle's f32 GEMM.
    Rounded,
}

impl Bf16Strategy {
    /// Rounded f32, unless `ATTUNE_BF16_TRAIN_KERNELS=1` and the CPU has bf16 dot products.
    /// Decided once per process: every linear layer of every step asks.
    pub fn for_this_cpu() -> Self {
        static CHOICE: std::sync::OnceLock<Bf16Strategy> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| {
            let asked = std::env::var("ATTUNE_BF16_TRAIN_KERNELS").is_ok_and(|v| v == "1");
            if asked && widest(&bf16_paths()) == Path::Avx512 {
                Bf16Strategy::Kernels
            } else {
                Bf16Strategy::Rounded
            }
        })
    }
}

/// The differentiable bf16 `x W^T` for `x` (rows, in) and `W` (out, in), f32 on the CPU.
#[derive(Debug, Clone, Copy)]
pub struct Bf16Linear;

impl Bf16Linear {
    pub fn forward(x: &Tensor, w: &Tensor) -> Result<Tensor> {
        Self::forward_with(Bf16Strategy::for_this_cpu(), x, w)
    }

    pub fn forward_with(strategy: Bf16Strategy, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        match strategy {
            Bf16Strategy::Kernels => x.contiguous()?.apply_op2(&w.contiguous()?, Bf16Linear),
            Bf16Strategy::Rounded => x.contiguous()?.apply_op2(&w.contiguous()?, RoundedLinear),
        }
    }
}

/// The [`Bf16Strategy::Rounded`] product: operands rounded to bf16 in f32 storage, candle's f32
/// GEMM. One op, so the graph keeps only `x` and `W` (which it holds anyway) and rounds again in
/// the backward pass, rather than keeping rounded copies.
#[derive(Debug, Clone, Copy)]
struct RoundedLinear;

fn rounded(v: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    out.par_chunks_mut(4096)
        .zip(v.par_chunks(4096))
        .for_each(|(o, v)| round_into(o, v));
    out
}

/// `t` rounded to bf16, as a new tensor outside any graph.
fn rounded_tensor(t: &Tensor) -> Result<Tensor> {
    Tensor::from_vec(rounded(&values(t)?), t.shape(), t.device())
}

impl CustomOp2 for RoundedLinear {
    fn name(&self) -> &'static str {
        "attune-bf16-rounded-linear"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, inp, out) = shapes(l1, l2)?;
        let dev = &candle_core::Device::Cpu;
        let x = Tensor::from_vec(rounded(input::<f32>(s1, l1, "bf16 linear")?), (rows, inp), dev)?;
        let w = Tensor::from_vec(rounded(input::<f32>(s2, l2, "bf16 linear")?), (out, inp), dev)?;
        let y = x.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()?;
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (x, w, g) = (rounded_tensor(x)?, rounded_tensor(w)?, rounded_tensor(g)?);
        Ok((Some(g.matmul(&w)?), Some(g.t()?.matmul(&x)?)))
    }
}

fn shapes(x: &Layout, w: &Layout) -> Result<(usize, usize, usize)> {
    let (rows, inp) = x.shape().dims2()?;
    let (out, w_inp) = w.shape().dims2()?;
    if inp != w_inp {
        return Err(candle_core::Error::Msg(format!(
            "bf16 linear: input width {inp}, the weight takes {w_inp}"
        )));
    }
    Ok((rows, inp, out))
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.contiguous()?.flatten_all()?.to_vec1::<f32>()
}

/// `a` (rows x cols) transposed, row-major.
fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; a.len()];
    for (r, row) in a.chunks_exact(cols.max(1)).enumerate().take(rows) {
        for (c, v) in row.iter().enumerate() {
            t[c * rows + r] = *v;
        }
    }
    t
}

impl CustomOp2 for Bf16Linear {
    fn name(&self) -> &'static str {
        "attune-bf16-linear"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, inp, out) = shapes(l1, l2)?;
        let x = input::<f32>(s1, l1, "bf16 linear")?;
        let w = input::<f32>(s2, l2, "bf16 linear")?;
        let y = Bf16Weight::quantize(w, out, inp, None).matmul(x, rows);
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }

    /// `dx = g W` and `dW = g^T x`, each product in bf16 with f32 sums.
    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, inp) = x.dims2()?;
        let (out, _) = w.dims2()?;
        let (xv, wv, gv) = (values(x)?, values(w)?, values(g)?);
        // dx: g (rows x out) times W, i.e. "x B^T" with B = W^T, which W itself stores transposed.
        let dx = Bf16Weight::quantize_transposed(&wv, inp, out).matmul(&gv, rows);
        // dW: g^T (out x rows) times x, i.e. "a B^T" with a = g^T and B = x^T (x stores it transposed).
        let dw = Bf16Weight::quantize_transposed(&xv, inp, rows).matmul(&transpose(&gv, rows, out), out);
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (rows, inp), dev)?),
            Some(Tensor::from_vec(dw, (out, inp), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(transpose(&[1., 2., 3., 4., 5., 6.], 2, 3), vec![1., 4., 2., 5., 3., 6.]);
    }
}
