//! f32 weights held for inference only, transposed: `W^T` contiguous (in x out), the bias apart.
//!
//! Why: candle hands the GEMM (the `gemm` crate) the view `W.t()` of a row-major W; the GEMM
//! computes the transposed product with W as its left operand and repacks that operand into
//! column panels at every call, a transposition from row-major W and a plain copy of runs from
//! `W^T`. The output also starts as the bias rows (the GEMM adds the product to them) instead of
//! zeros followed by a pass that adds the bias. The GEMM is the same kernel candle runs, so there
//! is no plain twin here: the test compares with candle's `x W^T + b`.

use gemm::Parallelism;

/// A weight matrix (out x in) stored as `W^T`, and its bias.
#[derive(Debug)]
pub struct F32Weight {
    out: usize,
    inp: usize,
    /// `W^T`, row-major (in x out).
    wt: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl F32Weight {
    /// From `w` (out x in, row-major) and its bias.
    pub fn new(w: &[f32], out: usize, inp: usize, bias: Option<&[f32]>) -> Self {
        let mut wt = vec![0f32; out * inp];
        for (o, row) in w.chunks_exact(inp.max(1)).enumerate().take(out) {
            for (k, &v) in row.iter().enumerate() {
                wt[k * out + o] = v;
            }
        }
        F32Weight {
            out,
            inp,
            wt,
            bias: bias.map(<[f32]>::to_vec),
        }
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    pub fn in_features(&self) -> usize {
        self.inp
    }

    pub fn bytes(&self) -> usize {
        4 * (self.wt.len() + self.bias.as_ref().map_or(0, Vec::len))
    }

    /// `x W^T + b` for `x` of `rows` rows of the input width (row-major).
    ///
    /// # Panics
    /// When `x` is not `rows` rows of the input width: the GEMM below reads by pointer, and a
    /// shorter `x` would be read past its end. [`super::LowMatmul`] checks the width first.
    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let (out, inp) = (self.out, self.inp);
        assert_eq!(x.len(), rows * inp, "f32 matmul: {rows} rows of {inp} inputs");
        let mut y = Vec::with_capacity(rows * out);
        match &self.bias {
            Some(b) => (0..rows).for_each(|_| y.extend_from_slice(b)),
            None => y.resize(rows * out, 0.0),
        }
        if rows == 0 || out == 0 || inp == 0 {
            return y;
        }
        // One product asked for from a rayon task (one of several inference batches at once)
        // stays on that task's thread, as candle's does in attune's build.
        let threads = rayon::current_num_threads();
        let parallelism = if threads > 1 && rayon::current_thread_index().is_none() {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        };
        // SAFETY: `y` is rows x out, `x` rows x inp and `wt` inp x out, all row-major and of
        // exactly those lengths (checked above and by construction); the strides below stay
        // inside them, and the three buffers do not overlap.
        unsafe {
            gemm::gemm(
                rows,
                out,
                inp,
                y.as_mut_ptr(),
                1,
                out as isize,
                true,
                x.as_ptr(),
                1,
                inp as isize,
                self.wt.as_ptr(),
                1,
                out as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        y
    }
}
