//! int8 weights with one scale per output channel, activations quantised per row (token) to u8
//! with a zero point: `y = s_x s_w (sum_k q_x q_w - z_x sum_k q_w) + b`.
//!
//! Weights are packed in blocks of [`BLOCK`] outputs by groups of 4 inputs, the layout
//! `vpdpbusd` reads: element `((block * groups + g) * 16 + j) * 4 + t` is output
//! `block * 16 + j`, input `4 g + t`. Inputs past the width are zero in both operands.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::grid::{self, Out, Tile};
use super::{int8_paths, usable, widest, Path, BLOCK};
use crate::kernels::rows::{simd, simd_level, Simd};

/// Rows one kernel call sums at most.
pub(crate) const MAX_ROWS: usize = 8;

/// Blocks of outputs one kernel call sums at most (the VNNI kernel; the others take one).
pub(crate) const MAX_BLOCKS: usize = 4;

/// A weight matrix (out x in) in int8, packed for the kernels.
#[derive(Debug)]
pub struct Int8Weight {
    out: usize,
    inp: usize,
    groups: usize,
    q: Vec<i8>,
    /// The same values widened to i16 for the AVX2 kernel, made on its first use.
    wide: OnceLock<Vec<i16>>,
    scale: Vec<f32>,
    colsum: Vec<i32>,
    bias: Option<Vec<f32>>,
}

/// Activations quantised per row.
pub(crate) struct Acts {
    /// Row stride: the input width rounded up to a group of 4.
    pub width: usize,
    pub q: Vec<u8>,
    /// `q` widened to i16, for the AVX2 kernel.
    pub wide: Vec<i16>,
    scale: Vec<f32>,
    zero: Vec<i32>,
}

impl Int8Weight {
    /// Quantises `w` (out x in, row-major) symmetrically per output row, to -127..=127.
    pub fn quantize(w: &[f32], out: usize, inp: usize, bias: Option<&[f32]>) -> Self {
        let groups = inp.div_ceil(4);
        let blocks = out.div_ceil(BLOCK);
        let mut q = vec![0i8; blocks * groups * BLOCK * 4];
        let mut scale = vec![0f32; blocks * BLOCK];
        let mut colsum = vec![0i32; blocks * BLOCK];
        // One block of outputs per task: a model's worth of layers is quantised at load.
        q.par_chunks_mut((groups * BLOCK * 4).max(1))
            .zip(scale.par_chunks_mut(BLOCK))
            .zip(colsum.par_chunks_mut(BLOCK))
            .enumerate()
            .for_each(|(b, ((q, scale), colsum))| {
                for j in 0..BLOCK.min(out - b * BLOCK) {
                    let o = b * BLOCK + j;
                    let row = &w[o * inp..(o + 1) * inp];
                    let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let s = if max > 0.0 { max / 127.0 } else { 1.0 };
                    scale[j] = s;
                    for (k, v) in row.iter().enumerate() {
                        let qv = (v / s).round().clamp(-127.0, 127.0) as i8;
                        q[((k / 4) * BLOCK + j) * 4 + k % 4] = qv;
                        colsum[j] += qv as i32;
                    }
                }
            });
        scale.truncate(out);
        colsum.truncate(out);
        Int8Weight {
            out,
            inp,
            groups,
            q,
            wide: OnceLock::new(),
            scale,
            colsum,
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
        self.q.len() + self.wide.get().map_or(0, |w| 2 * w.len()) + 8 * self.out
    }

    /// The weights as the int8 values times their scales: what the kernels multiply by.
    pub fn dequantized(&self) -> Vec<f32> {
        let mut w = vec![0f32; self.out * self.inp];
        for o in 0..self.out {
            for k in 0..self.inp {
                let (b, j) = (o / BLOCK, o % BLOCK);
                let qv = self.q[((b * self.groups + k / 4) * BLOCK + j) * 4 + k % 4];
                w[o * self.inp + k] = qv as f32 * self.scale[o];
            }
        }
        w
    }

    /// `x W^T + b` on the widest path this CPU has.
    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        self.matmul_on(widest(&int8_paths()), x, rows)
    }

    /// `x W^T + b` on `path`, which must be one of [`int8_paths`] (others fall back to plain).
    pub fn matmul_on(&self, path: Path, x: &[f32], rows: usize) -> Vec<f32> {
        let path = usable(path, &int8_paths());
        let acts = quantize_rows(x, rows, self.inp, path == Path::Avx2);
        let wide = match path {
            Path::Avx2 => Some(self.wide.get_or_init(|| self.q.iter().map(|&v| v as i16).collect())),
            _ => None,
        };
        let blocks = self.out.div_ceil(BLOCK);
        // SAFETY: `tile` walks all of the tile's rows and blocks, and `store` writes each row
        // it is given at every column of the block.
        unsafe {
            grid::run(rows, self.out, blocks, |tile, out| {
                simd(
                    #[inline(always)]
                    || self.tile(path, wide, &acts, tile, out),
                )
            })
        }
    }

    #[inline(always)]
    fn tile(&self, path: Path, wide: Option<&Vec<i16>>, acts: &Acts, tile: &Tile, out: &Out) {
        // Block i's sums start at i * MAX_ROWS * BLOCK.
        let mut sums = [0i32; MAX_BLOCKS * MAX_ROWS * BLOCK];
        let max_blocks = if path == Path::Avx512 { MAX_BLOCKS } else { 1 };
        grid::walk_wide(
            tile,
            max_blocks,
            MAX_ROWS,
            #[inline(always)]
            |b, nb, r0, n| {
                let done = self.blocks(path, wide, acts, (b, nb), r0, n, &mut sums);
                for (i, s) in sums.chunks_exact(MAX_ROWS * BLOCK).take(nb).enumerate() {
                    self.store(acts, b + i, r0, done, s, out);
                }
                done
            },
        )
    }

    /// Sums rows `r0..r0 + n` (or fewer: returns how many) against the `nb` blocks from `b`
    /// (more than one only on the VNNI path) into `sums`.
    #[allow(clippy::too_many_arguments)]
    fn blocks(
        &self,
        path: Path,
        wide: Option<&Vec<i16>>,
        acts: &Acts,
        (b, nb): (usize, usize),
        r0: usize,
        n: usize,
        sums: &mut [i32],
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        match (path, wide) {
            (Path::Avx2, Some(w)) => return super::int8_x86::block_avx2(w, acts, self.groups, b, r0, n, sums),
            (Path::Avx512, _) => return super::int8_x86::blocks_vnni(&self.q, acts, self.groups, (b, nb), r0, n, sums),
            _ => {}
        }
        let _ = (path, wide, nb);
        self.block_plain(acts, b, r0, n, sums)
    }

    fn block_plain(&self, acts: &Acts, b: usize, r0: usize, n: usize, sums: &mut [i32]) -> usize {
        let base = b * self.groups * BLOCK * 4;
        for r in 0..n {
            let x = &acts.q[(r0 + r) * acts.width..(r0 + r + 1) * acts.width];
            for j in 0..BLOCK {
                let mut s = 0i32;
                for (g, xg) in x.chunks_exact(4).enumerate() {
                    let w = &self.q[base + (g * BLOCK + j) * 4..][..4];
                    s += xg.iter().zip(w).map(|(&a, &c)| a as i32 * c as i32).sum::<i32>();
                }
                sums[r * BLOCK + j] = s;
            }
        }
        n
    }

    /// The epilogue every path shares, so all give the same floats from the same sums. Inlined
    /// into the caller's instruction set: on its own it ran as SSE2 code.
    #[inline(always)]
    fn store(&self, acts: &Acts, b: usize, r0: usize, n: usize, sums: &[i32], out: &Out) {
        let o0 = b * BLOCK;
        let width = BLOCK.min(self.out - o0);
        let (colsum, scale) = (&self.colsum[o0..o0 + width], &self.scale[o0..o0 + width]);
        let bias = self.bias.as_ref().map(|v| &v[o0..o0 + width]);
        let mut y = [0f32; BLOCK];
        for (r, s) in sums.chunks_exact(BLOCK).take(n).enumerate() {
            let (sx, zx) = (acts.scale[r0 + r], acts.zero[r0 + r]);
            for (((y, &s), &c), &w) in y.iter_mut().zip(s).zip(colsum).zip(scale) {
                *y = (s - zx * c) as f32 * (sx * w);
            }
            if let Some(bias) = bias {
                y.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
            }
            // SAFETY: rows r0.. and block b lie in the tile this call was given.
            unsafe { out.write(r0 + r, o0, &y[..width]) };
        }
    }
}

/// Quantises each row of `x` (rows x inp) to u8 codes with its own scale and zero point (zero is
/// exact); `widen` stores the codes as i16, the form the AVX2 kernel reads, instead of u8.
pub(crate) fn quantize_rows(x: &[f32], rows: usize, inp: usize, widen: bool) -> Acts {
    let width = inp.div_ceil(4) * 4;
    let mut params = vec![(0f32, 0i32); rows];
    let (mut q, mut wide) = match widen {
        true => (Vec::new(), vec![0i16; rows * width]),
        false => (vec![0u8; rows * width], Vec::new()),
    };
    if widen {
        codes(x, inp, width, &mut wide, &mut params);
    } else {
        codes(x, inp, width, &mut q, &mut params);
    }
    Acts {
        width,
        q,
        wide,
        scale: params.iter().map(|p| p.0).collect(),
        zero: params.iter().map(|p| p.1).collect(),
    }
}

/// A type activation codes (0..=255) are stored in.
trait Code: Copy + Send {
    fn code(v: i32) -> Self;
}

impl Code for u8 {
    #[inline(always)]
    fn code(v: i32) -> u8 {
        v as u8
    }
}

impl Code for i16 {
    #[inline(always)]
    fn code(v: i32) -> i16 {
        v as i16
    }
}

fn codes<T: Code>(x: &[f32], inp: usize, width: usize, out: &mut [T], params: &mut [(f32, i32)]) {
    out.par_chunks_mut(width.max(1))
        .zip(params.par_iter_mut())
        .enumerate()
        .for_each(|(r, (d, p))| *p = quantize_row_fast(&x[r * inp..(r + 1) * inp], d));
}

/// [`quantize_row`] compiled for AVX2 where the CPU has it (a closure handed to `simd` was not
/// inlined into it, and ran as SSE code).
fn quantize_row_fast<T: Code>(x: &[f32], q: &mut [T]) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if simd_level() >= Simd::Avx2 {
        // SAFETY: the CPU has AVX2 and FMA (`simd_level` checked).
        return unsafe { quantize_row_avx2(x, q) };
    }
    quantize_row(x, q)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_row_avx2<T: Code>(x: &[f32], q: &mut [T]) -> (f32, i32) {
    quantize_row(x, q)
}

/// `q = floor(x / scale + zero + 1/2)` within 0..=255: to nearest, ties up. Shifted by the zero
/// point a value is at least -1/2, so truncation is the floor, and the loop vectorises (a
/// per-element `round` is a libm call).
#[inline(always)]
fn quantize_row<T: Code>(x: &[f32], q: &mut [T]) -> (f32, i32) {
    let (lo, hi) = min_max(x);
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zero = (-lo / scale).round().clamp(0.0, 255.0);
    let (inv, shift) = (1.0 / scale, zero + 0.5);
    for (d, &v) in q.iter_mut().zip(x) {
        // `max` first: a NaN becomes 0, so the value is finite and within 0..=255 (`clamp`
        // would keep the NaN, and the unchecked cast below needs a number).
        #[allow(clippy::manual_clamp)]
        let c = (v * inv + shift).max(0.0).min(255.0);
        // SAFETY: `c` is finite and in range (above); the unchecked cast vectorises, `as` does not.
        *d = T::code(unsafe { c.to_int_unchecked::<i32>() });
    }
    (scale, zero as i32)
}

/// The least and greatest of `x` and 0, in eight lanes so the loop vectorises.
#[inline(always)]
fn min_max(x: &[f32]) -> (f32, f32) {
    let (mut lo, mut hi) = ([0f32; 8], [0f32; 8]);
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(c) {
            // A compare and select, not `f32::min`: its NaN rule kept the loop scalar (a NaN
            // is passed over here, and quantised to 0 below).
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
        }
    }
    let lo = lo.iter().chain(tail).fold(0f32, |m, &v| m.min(v));
    let hi = hi.iter().chain(tail).fold(0f32, |m, &v| m.max(v));
    (lo, hi)
}
