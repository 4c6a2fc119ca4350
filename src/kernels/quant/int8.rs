//! int8 weights with one scale per output channel, activations quantised per row (token) to u8
//! with a zero point: `y = s_x s_w (sum_k q_x q_w - z_x sum_k q_w) + b`.
//!
//! Weights are packed in blocks of [`BLOCK`] outputs by groups of 4 inputs, the layout
//! `vpdpbusd` reads: element `((block * groups + g) * 16 + j) * 4 + t` is output
//! `block * 16 + j`, input `4 g + t`. Inputs past the width are zero in both operands.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::grid::{self, Out, Tile};
use super::{int8_paths, Path, BLOCK};

/// Rows one kernel call sums at most.
pub(crate) const MAX_ROWS: usize = 8;

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
        let mut scale = vec![0f32; out];
        let mut colsum = vec![0i32; out];
        for o in 0..out {
            let row = &w[o * inp..(o + 1) * inp];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scale[o] = s;
            let (b, j) = (o / BLOCK, o % BLOCK);
            for (k, v) in row.iter().enumerate() {
                let qv = (v / s).round().clamp(-127.0, 127.0) as i8;
                q[((b * groups + k / 4) * BLOCK + j) * 4 + k % 4] = qv;
                colsum[o] += qv as i32;
            }
        }
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
        let path = int8_paths().last().copied().unwrap_or(Path::Plain);
        self.matmul_on(path, x, rows)
    }

    /// `x W^T + b` on `path`, which must be one of [`int8_paths`] (others fall back to plain).
    pub fn matmul_on(&self, path: Path, x: &[f32], rows: usize) -> Vec<f32> {
        let path = if int8_paths().contains(&path) {
            path
        } else {
            Path::Plain
        };
        let acts = quantize_rows(x, rows, self.inp, path == Path::Avx2);
        let wide = match path {
            Path::Avx2 => Some(self.wide.get_or_init(|| self.q.iter().map(|&v| v as i16).collect())),
            _ => None,
        };
        let blocks = self.out.div_ceil(BLOCK);
        grid::run(rows, self.out, blocks, |tile, out| {
            self.tile(path, wide, &acts, tile, out)
        })
    }

    fn tile(&self, path: Path, wide: Option<&Vec<i16>>, acts: &Acts, tile: &Tile, out: &Out) {
        let mut sums = [0i32; MAX_ROWS * BLOCK];
        for b in tile.blocks.clone() {
            let mut r0 = tile.rows.start;
            while r0 < tile.rows.end {
                let n = (tile.rows.end - r0).min(MAX_ROWS);
                let done = self.block(path, wide, acts, b, r0, n, &mut sums);
                self.store(acts, b, r0, done, &sums, out);
                r0 += done;
            }
        }
    }

    /// Sums rows `r0..r0 + n` (or fewer: returns how many) against block `b` into `sums`.
    #[allow(clippy::too_many_arguments)]
    fn block(
        &self,
        path: Path,
        wide: Option<&Vec<i16>>,
        acts: &Acts,
        b: usize,
        r0: usize,
        n: usize,
        sums: &mut [i32],
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        match (path, wide) {
            (Path::Avx2, Some(w)) => return super::int8_x86::block_avx2(w, acts, self.groups, b, r0, n, sums),
            (Path::Avx512, _) => return super::int8_x86::block_vnni(&self.q, acts, self.groups, b, r0, n, sums),
            _ => {}
        }
        let _ = (path, wide);
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

    /// The epilogue every path shares, so all give the same floats from the same sums.
    fn store(&self, acts: &Acts, b: usize, r0: usize, n: usize, sums: &[i32], out: &Out) {
        for r in 0..n {
            let row = r0 + r;
            let (sx, zx) = (acts.scale[row], acts.zero[row]);
            for j in 0..BLOCK.min(self.out.saturating_sub(b * BLOCK)) {
                let o = b * BLOCK + j;
                let d = sums[r * BLOCK + j] - zx * self.colsum[o];
                let bias = self.bias.as_ref().map_or(0.0, |v| v[o]);
                out.write(row, o, d as f32 * (sx * self.scale[o]) + bias);
            }
        }
    }
}

/// Quantises each row of `x` (rows x inp) to u8 with its own scale and zero point; zero is exact.
pub(crate) fn quantize_rows(x: &[f32], rows: usize, inp: usize, widen: bool) -> Acts {
    let width = inp.div_ceil(4) * 4;
    let mut q = vec![0u8; rows * width];
    let mut params = vec![(0f32, 0i32); rows];
    q.par_chunks_mut(width.max(1))
        .zip(params.par_iter_mut())
        .enumerate()
        .for_each(|(r, (qr, p))| *p = quantize_row(&x[r * inp..(r + 1) * inp], qr));
    let wide = if widen {
        q.iter().map(|&v| v as i16).collect()
    } else {
        Vec::new()
    };
    Acts {
        width,
        q,
        wide,
        scale: params.iter().map(|p| p.0).collect(),
        zero: params.iter().map(|p| p.1).collect(),
    }
}

fn quantize_row(x: &[f32], q: &mut [u8]) -> (f32, i32) {
    let (lo, hi) = x.iter().fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zero = (-lo / scale).round().clamp(0.0, 255.0);
    for (d, &v) in q.iter_mut().zip(x) {
        *d = ((v / scale).round() + zero).clamp(0.0, 255.0) as u8;
    }
    (scale, zero as i32)
}
