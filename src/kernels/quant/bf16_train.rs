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

/// The [`Bf16Strategy::Rounded`] product: operands rounded to bf16 in f32 storage, the f32 GEMM
/// (the `gemm` crate, as candle's matmul). One op, so the graph keeps only `x` and `W` (which it
/// holds anyway) and rounds again in the backward pass, rather than keeping rounded copies. The
/// operands are read in place and the products written straight into the result: through
/// candle's tensors each operand was copied twice and each product once more.
#[derive(Debug, Clone, Copy)]
struct RoundedLinear;

fn rounded(v: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    out.par_chunks_mut(4096)
        .zip(v.par_chunks(4096))
        .for_each(|(o, v)| round_into(o, v));
    out
}

/// `t`'s values rounded to bf16, read in place where `t` is contiguous f32 on the CPU.
fn rounded_values(t: &Tensor) -> Result<Vec<f32>> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (candle_core::Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) = (&*storage, layout.contiguous_offsets())
        {
            return Ok(rounded(&v[a..b]));
        }
    }
    Ok(rounded(&values(t)?))
}

/// A matrix in f32 and its strides, (row, column), in elements.
struct Strided<'a>(&'a [f32], usize, usize);

/// `a (m x k) b (k x n)` into a new row-major `m x n` matrix, on the rayon pool.
fn product(m: usize, n: usize, k: usize, a: Strided, b: Strided) -> Result<Vec<f32>> {
    let mut dst = vec![0f32; m * n];
    if m * n == 0 || k == 0 {
        return Ok(dst);
    }
    let reach = |s: &Strided, rows: usize, cols: usize| (rows - 1) * s.1 + (cols - 1) * s.2 < s.0.len();
    if !reach(&a, m, k) || !reach(&b, k, n) {
        return Err(candle_core::Error::Msg(format!(
            "bf16 linear: operands of {} and {} values do not hold a ({m} x {k}) by ({k} x {n}) product",
            a.0.len(),
            b.0.len()
        )));
    }
    let threads = rayon::current_num_threads();
    // From a rayon task (one half of a training batch) the product stays on the task's thread:
    // the other threads run the other half.
    let parallelism = if threads > 1 && rayon::current_thread_index().is_none() {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `dst` holds m x n elements at strides (n, 1); `reach` checked that the last element
    // of each operand lies inside its slice; with read_dst false, alpha is ignored and
    // dst = beta * a b.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.0.as_ptr(),
            a.2 as isize,
            a.1 as isize,
            b.0.as_ptr(),
            b.2 as isize,
            b.1 as isize,
            0f32,
            1f32,
            false,
            false,
            false,
            parallelism,
        )
    };
    Ok(dst)
}

impl CustomOp2 for RoundedLinear {
    fn name(&self) -> &'static str {
        "attune-bf16-rounded-linear"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, inp, out) = shapes(l1, l2)?;
        let x = rounded(input::<f32>(s1, l1, "bf16 linear")?);
        let w = rounded(input::<f32>(s2, l2, "bf16 linear")?);
        // y = x W^T: W (out x inp) read as its transpose (inp x out).
        let y = product(rows, out, inp, Strided(&x, inp, 1), Strided(&w, 1, inp))?;
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }

    /// `dx = g W` and `dW = g^T x` on the rounded operands.
    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, g: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (rows, inp) = x.dims2()?;
        let (out, _) = w.dims2()?;
        let (xr, wr, gr) = (rounded_values(x)?, rounded_values(w)?, rounded_values(g)?);
        let dx = product(rows, inp, out, Strided(&gr, out, 1), Strided(&wr, inp, 1))?;
        // g^T (out x rows) is g (rows x out) read with swapped strides.
        let dw = product(out, inp, rows, Strided(&gr, 1, out), Strided(&xr, inp, 1))?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (rows, inp), dev)?),
            Some(Tensor::from_vec(dw, (out, inp), dev)?),
        ))
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
    fn product_reads_either_operand_transposed_and_refuses_short_ones() {
        // a (2 x 3) times b^T, b stored (4 x 3): the forward's layout.
        let a = [1., 2., 3., 4., 5., 6.];
        let b = [1., 0., 0., 0., 1., 0., 0., 0., 1., 1., 1., 1.];
        let y = product(2, 4, 3, Strided(&a, 3, 1), Strided(&b, 1, 3)).unwrap();
        assert_eq!(y, vec![1., 2., 3., 6., 4., 5., 6., 15.]);
        // a^T (3 x 2) times a (2 x 3), a read with swapped strides: dW's layout.
        let y = product(3, 3, 2, Strided(&a, 1, 3), Strided(&a, 3, 1)).unwrap();
        assert_eq!(y, vec![17., 22., 27., 22., 29., 36., 27., 36., 45.]);
        assert!(product(2, 4, 3, Strided(&a[..5], 3, 1), Strided(&b, 1, 3)).is_err());
        assert_eq!(
            product(2, 2, 0, Strided(&[], 0, 1), Strided(&[], 2, 1)).unwrap(),
            vec![0.; 4]
        );
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(transpose(&[1., 2., 3., 4., 5., 6.], 2, 3), vec![1., 4., 2., 5., 3., 6.]);
    }
}
