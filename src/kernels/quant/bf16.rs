//! bf16 weights, activations rounded to bf16 (to nearest, ties to even), products summed in f32.
//! A product of two bf16 values is exact in f32 (unless it falls below f32's normal range), so
//! the plain twin and the AVX2 kernel (bf16 widened to f32, fused multiply-add in input order)
//! give the same floats.
//!
//! Weights are packed in blocks of [`BLOCK`] outputs by pairs of inputs, the layout `vdpbf16ps`
//! reads: element `((block * pairs + p) * 16 + j) * 2 + t` is output `block * 16 + j`, input
//! `2 p + t`. Inputs past the width are zero.

use rayon::prelude::*;

use super::grid::{self, Out, Tile};
use super::{bf16_paths, usable, widest, Path, BLOCK};
use crate::kernels::rows::simd;

/// Rows one kernel call sums at most.
pub(crate) const MAX_ROWS: usize = 8;

/// Blocks of outputs one kernel call sums at most (the AVX-512 BF16 kernel; the others take one).
pub(crate) const MAX_BLOCKS: usize = 4;

/// A weight matrix (out x in) in bf16, packed for the kernels.
#[derive(Debug)]
pub struct Bf16Weight {
    out: usize,
    inp: usize,
    pairs: usize,
    w: Vec<u16>,
    bias: Option<Vec<f32>>,
}

/// Activations rounded to bf16: as bits for `vdpbf16ps` (`wide` empty), or as f32 for the other
/// paths (`bits` empty).
pub(crate) struct Acts {
    /// Row stride: the input width rounded up to a pair.
    pub width: usize,
    pub bits: Vec<u16>,
    pub wide: Vec<f32>,
}

/// `v` rounded to bf16 (to nearest, ties to even), as its bits; NaN stays a (quiet) NaN. The
/// same as `half::bf16::from_f32`, without its branches, so loops over it vectorise.
#[inline(always)]
pub fn to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        return ((b >> 16) | 0x0040) as u16;
    }
    (b.wrapping_add(0x7FFF + ((b >> 16) & 1)) >> 16) as u16
}

/// `src` rounded to bf16 and widened back, into the front of `dst`, in vector code.
pub(crate) fn round_into(dst: &mut [f32], src: &[f32]) {
    simd(
        #[inline(always)]
        || {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = from_bf16(to_bf16(v));
            }
        },
    )
}

/// `src` rounded to bf16, as bits, into the front of `dst`, in vector code.
fn round_bits_into(dst: &mut [u16], src: &[f32]) {
    simd(
        #[inline(always)]
        || {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = to_bf16(v);
            }
        },
    )
}

/// The f32 a bf16's bits stand for.
#[inline(always)]
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits((b as u32) << 16)
}

impl Bf16Weight {
    pub fn quantize(w: &[f32], out: usize, inp: usize, bias: Option<&[f32]>) -> Self {
        let mut q = Self::pack(out, inp, |o, k| w[o * inp + k]);
        q.bias = bias.map(<[f32]>::to_vec);
        q
    }

    /// The weight `W = wt^T`, from `wt` of shape (in x out) row-major: a backward pass multiplies
    /// by transposed operands, and packing from them directly saves a transposed copy.
    pub fn quantize_transposed(wt: &[f32], out: usize, inp: usize) -> Self {
        Self::pack(out, inp, |o, k| wt[k * out + o])
    }

    /// Packs `out` x `inp` values, `at(o, k)`, one block of outputs per task.
    fn pack(out: usize, inp: usize, at: impl Fn(usize, usize) -> f32 + Sync) -> Self {
        let pairs = inp.div_ceil(2);
        let blocks = out.div_ceil(BLOCK);
        let mut packed = vec![0u16; blocks * pairs * BLOCK * 2];
        packed
            .par_chunks_mut((pairs * BLOCK * 2).max(1))
            .enumerate()
            .for_each(|(b, block)| {
                // Outputs innermost: reading a transposed source is then one short run per input.
                let n = BLOCK.min(out - b * BLOCK);
                for k in 0..inp {
                    for j in 0..n {
                        block[((k / 2) * BLOCK + j) * 2 + k % 2] = to_bf16(at(b * BLOCK + j, k));
                    }
                }
            });
        Bf16Weight {
            out,
            inp,
            pairs,
            w: packed,
            bias: None,
        }
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    pub fn in_features(&self) -> usize {
        self.inp
    }

    pub fn bytes(&self) -> usize {
        2 * self.w.len() + 4 * self.out
    }

    /// `x W^T + b` on the widest path this CPU has.
    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        self.matmul_on(widest(&bf16_paths()), x, rows)
    }

    /// `x W^T + b` on `path`, which must be one of [`bf16_paths`] (others fall back to plain).
    pub fn matmul_on(&self, path: Path, x: &[f32], rows: usize) -> Vec<f32> {
        let path = usable(path, &bf16_paths());
        let acts = round_rows(x, rows, self.inp, path == Path::Avx512);
        let blocks = self.out.div_ceil(BLOCK);
        // SAFETY: `tile` walks all of the tile's rows and blocks, and `store` writes each row
        // it is given at every column of the block.
        unsafe {
            grid::run(rows, self.out, blocks, |tile, out| {
                simd(
                    #[inline(always)]
                    || self.tile(path, &acts, tile, out),
                )
            })
        }
    }

    #[inline(always)]
    fn tile(&self, path: Path, acts: &Acts, tile: &Tile, out: &Out) {
        // Block i's sums start at i * MAX_ROWS * BLOCK.
        let mut sums = [0f32; MAX_BLOCKS * MAX_ROWS * BLOCK];
        let max_blocks = if path == Path::Avx512 { MAX_BLOCKS } else { 1 };
        grid::walk_wide(
            tile,
            max_blocks,
            MAX_ROWS,
            #[inline(always)]
            |b, nb, r0, n| {
                let done = self.blocks(path, acts, (b, nb), r0, n, &mut sums);
                for (i, s) in sums.chunks_exact(MAX_ROWS * BLOCK).take(nb).enumerate() {
                    self.store(b + i, r0, done, s, out);
                }
                done
            },
        )
    }

    /// Sums rows `r0..r0 + n` (or fewer: returns how many) against the `nb` blocks from `b`
    /// (more than one only on the AVX-512 path) into `sums`.
    fn blocks(&self, path: Path, acts: &Acts, (b, nb): (usize, usize), r0: usize, n: usize, sums: &mut [f32]) -> usize {
        #[cfg(target_arch = "x86_64")]
        match path {
            Path::Avx2 => return super::bf16_x86::block_avx2(&self.w, acts, self.pairs, b, r0, n, sums),
            Path::Avx512 => return super::bf16_x86::blocks_dpbf16(&self.w, acts, self.pairs, (b, nb), r0, n, sums),
            Path::Plain => {}
        }
        let _ = (path, nb);
        self.block_plain(acts, b, r0, n, sums)
    }

    fn block_plain(&self, acts: &Acts, b: usize, r0: usize, n: usize, sums: &mut [f32]) -> usize {
        let base = b * self.pairs * BLOCK * 2;
        for r in 0..n {
            let x = &acts.wide[(r0 + r) * acts.width..(r0 + r + 1) * acts.width];
            for j in 0..BLOCK {
                let mut s = 0f32;
                for (p, xp) in x.chunks_exact(2).enumerate() {
                    let w = &self.w[base + (p * BLOCK + j) * 2..][..2];
                    s += xp[0] * from_bf16(w[0]);
                    s += xp[1] * from_bf16(w[1]);
                }
                sums[r * BLOCK + j] = s;
            }
        }
        n
    }

    /// Inlined into the caller's instruction set, as int8's epilogue (on its own it ran as SSE2).
    #[inline(always)]
    fn store(&self, b: usize, r0: usize, n: usize, sums: &[f32], out: &Out) {
        let o0 = b * BLOCK;
        let width = BLOCK.min(self.out - o0);
        let mut y = [0f32; BLOCK];
        for (r, s) in sums.chunks_exact(BLOCK).take(n).enumerate() {
            y.copy_from_slice(s);
            if let Some(bias) = &self.bias {
                y.iter_mut().zip(&bias[o0..o0 + width]).for_each(|(y, b)| *y += b);
            }
            // SAFETY: rows r0.. and block b lie in the tile this call was given.
            unsafe { out.write(r0 + r, o0, &y[..width]) };
        }
    }
}

/// Rounds each row of `x` (rows x inp) to bf16, padded to a whole pair with zeros: as bits when
/// `bits` (the form `vdpbf16ps` reads), else widened back to f32.
pub(crate) fn round_rows(x: &[f32], rows: usize, inp: usize, bits: bool) -> Acts {
    let width = inp.div_ceil(2) * 2;
    let rows_of = |r: usize| &x[r * inp..(r + 1) * inp];
    if bits {
        let mut b = vec![0u16; rows * width];
        b.par_chunks_mut(width.max(1))
            .enumerate()
            .for_each(|(r, d)| round_bits_into(d, rows_of(r)));
        return Acts {
            width,
            bits: b,
            wide: Vec::new(),
        };
    }
    let mut wide = vec![0f32; rows * width];
    wide.par_chunks_mut(width.max(1))
        .enumerate()
        .for_each(|(r, d)| round_into(d, rows_of(r)));
    Acts {
        width,
        bits: Vec::new(),
        wide,
    }
}
