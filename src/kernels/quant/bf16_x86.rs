//! The bf16 kernels for x86-64: AVX2+FMA widens bf16 to f32 in registers (a shift for the even
//! input of a pair, a mask for the odd one) and multiply-adds in input order; AVX-512 BF16 sums
//! pairs with `vdpbf16ps`.

use std::arch::x86_64::*;

use super::bf16::{Acts, MAX_BLOCKS, MAX_ROWS};
use super::BLOCK;

/// Rows the AVX2 kernel sums at once: 8 accumulators and 4 widened weight vectors.
const AVX2_ROWS: usize = 4;

/// Sums up to [`AVX2_ROWS`] rows from `r0` against block `b`; returns how many it did.
pub(crate) fn block_avx2(
    w: &[u16],
    acts: &Acts,
    pairs: usize,
    b: usize,
    r0: usize,
    n: usize,
    sums: &mut [f32],
) -> usize {
    let rows = n.min(AVX2_ROWS);
    assert!(rows >= 1 && 2 * pairs <= acts.width);
    assert!(w.len() >= (b + 1) * pairs * BLOCK * 2 && acts.wide.len() >= (r0 + rows) * acts.width);
    assert!(sums.len() >= rows * BLOCK);
    assert!(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"));
    // SAFETY: the CPU has AVX2 and FMA (asserted); reads are within the lengths asserted.
    unsafe {
        match rows {
            4 => tile_avx2::<4>(w, acts, pairs, b, r0, sums),
            2 | 3 => tile_avx2::<2>(w, acts, pairs, b, r0, sums),
            _ => tile_avx2::<1>(w, acts, pairs, b, r0, sums),
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2<const R: usize>(
    w: &[u16],
    acts: &Acts,
    pairs: usize,
    b: usize,
    r0: usize,
    sums: &mut [f32],
) -> usize {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    let high = _mm256_set1_epi32(0xFFFF_0000u32 as i32);
    let wb = w.as_ptr().add(b * pairs * BLOCK * 2);
    let xb = acts.wide.as_ptr().add(r0 * acts.width);
    for p in 0..pairs {
        // Outputs 0-7 and 8-15, each 32-bit lane one output's pair of inputs.
        let wp = wb.add(p * BLOCK * 2);
        let lo = _mm256_loadu_si256(wp as *const __m256i);
        let hi = _mm256_loadu_si256(wp.add(16) as *const __m256i);
        let even = [
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(lo)),
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(hi)),
        ];
        let odd = [
            _mm256_castsi256_ps(_mm256_and_si256(lo, high)),
            _mm256_castsi256_ps(_mm256_and_si256(hi, high)),
        ];
        for (r, row) in acc.iter_mut().enumerate() {
            let x0 = _mm256_set1_ps(*xb.add(r * acts.width + 2 * p));
            let x1 = _mm256_set1_ps(*xb.add(r * acts.width + 2 * p + 1));
            for ((a, e), o) in row.iter_mut().zip(even).zip(odd) {
                *a = _mm256_fmadd_ps(x1, o, _mm256_fmadd_ps(x0, e, *a));
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        _mm256_storeu_ps(sums.as_mut_ptr().add(r * BLOCK), row[0]);
        _mm256_storeu_ps(sums.as_mut_ptr().add(r * BLOCK + 8), row[1]);
    }
    R
}

/// Rows the AVX-512 BF16 kernel sums at once: with [`MAX_BLOCKS`] blocks, 24 accumulators.
const DPBF16_ROWS: usize = 6;

/// Sums up to [`DPBF16_ROWS`] rows from `r0` against the `nb` (1..=[`MAX_BLOCKS`]) blocks from
/// `b` with `vdpbf16ps`; block i's sums go to `sums[i * MAX_ROWS * BLOCK..]`. Returns how many
/// rows it did.
pub(crate) fn blocks_dpbf16(
    w: &[u16],
    acts: &Acts,
    pairs: usize,
    (b, nb): (usize, usize),
    r0: usize,
    n: usize,
    sums: &mut [f32],
) -> usize {
    let rows = n.min(DPBF16_ROWS);
    assert!(rows >= 1 && (1..=MAX_BLOCKS).contains(&nb) && 2 * pairs <= acts.width);
    assert!(w.len() >= (b + nb) * pairs * BLOCK * 2 && acts.bits.len() >= (r0 + rows) * acts.width);
    assert!(sums.len() >= nb * MAX_ROWS * BLOCK);
    assert!(std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bf16"));
    let k = Dpbf16Call { w, acts, pairs, b, r0 };
    // SAFETY: the CPU has AVX-512F and BF16 (asserted); reads are within the lengths asserted.
    unsafe {
        match nb {
            4 => k.rows::<4>(rows, sums),
            3 => k.rows::<3>(rows, sums),
            2 => k.rows::<2>(rows, sums),
            _ => k.rows::<1>(rows, sums),
        }
    }
}

/// The operands of one AVX-512 BF16 kernel call.
struct Dpbf16Call<'a> {
    w: &'a [u16],
    acts: &'a Acts,
    pairs: usize,
    b: usize,
    r0: usize,
}

impl Dpbf16Call<'_> {
    /// # Safety
    /// As [`Self::tile`].
    #[inline(always)]
    unsafe fn rows<const NB: usize>(&self, rows: usize, sums: &mut [f32]) -> usize {
        match rows {
            6.. => self.tile::<NB, 6>(sums),
            4 | 5 => self.tile::<NB, 4>(sums),
            2 | 3 => self.tile::<NB, 2>(sums),
            _ => self.tile::<NB, 1>(sums),
        }
    }

    /// A weight vector is loaded once per pair and block and serves every row, a broadcast pair of
    /// activations once per row and serves every block: one load per multiply-add was the first
    /// form's limit (as int8's VNNI kernel measured).
    ///
    /// # Safety
    /// The CPU has AVX-512F and BF16; `w` holds blocks `b..b + NB`, `acts.bits` rows
    /// `r0..r0 + R`, `sums` NB * MAX_ROWS * BLOCK values ([`blocks_dpbf16`] asserts all of it).
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn tile<const NB: usize, const R: usize>(&self, sums: &mut [f32]) -> usize {
        let mut acc = [[_mm512_setzero_ps(); NB]; R];
        let stride = self.pairs * BLOCK * 2;
        let wb = self.w.as_ptr().add(self.b * stride);
        let xb = self.acts.bits.as_ptr().add(self.r0 * self.acts.width);
        for p in 0..self.pairs {
            // Per block, 16 outputs x 2 inputs: one 32-bit lane per output.
            let mut wv = [_mm512_setzero_si512(); NB];
            for (i, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(wb.add(i * stride + p * BLOCK * 2) as *const _);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let pair = (xb.add(r * self.acts.width + 2 * p) as *const i32).read_unaligned();
                let x = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair));
                for (a, v) in row.iter_mut().zip(wv) {
                    *a = _mm512_dpbf16_ps(*a, x, std::mem::transmute::<__m512i, __m512bh>(v));
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (i, a) in row.iter().enumerate() {
                _mm512_storeu_ps(sums.as_mut_ptr().add(i * MAX_ROWS * BLOCK + r * BLOCK), *a);
            }
        }
        R
    }
}
