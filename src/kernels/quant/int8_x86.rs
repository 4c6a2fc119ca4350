//! The int8 kernels for x86-64: AVX2 multiplies 16-bit pairs (`vpmaddwd`) of activations and
//! weights widened from 8 bits, AVX-512 VNNI multiplies 8-bit quads (`vpdpbusd`). Both sum
//! exactly in 32 bits, so they agree with the plain twin bit for bit.

use std::arch::x86_64::*;

use super::int8::{Acts, MAX_BLOCKS, MAX_ROWS};
use super::BLOCK;

/// Rows the AVX2 kernel sums at once: 8 accumulators, 4 weight vectors and the broadcasts fit
/// the 16 registers.
const AVX2_ROWS: usize = 2;

/// Sums up to [`AVX2_ROWS`] rows from `r0` against block `b`; returns how many it did.
pub(crate) fn block_avx2(
    w: &[i16],
    acts: &Acts,
    groups: usize,
    b: usize,
    r0: usize,
    n: usize,
    sums: &mut [i32],
) -> usize {
    let need_w = (b + 1) * groups * BLOCK * 4;
    let rows = n.min(AVX2_ROWS);
    assert!(rows >= 1 && 4 * groups <= acts.width);
    assert!(w.len() >= need_w && acts.wide.len() >= (r0 + rows) * acts.width && sums.len() >= rows * BLOCK);
    assert!(std::arch::is_x86_feature_detected!("avx2"));
    // SAFETY: the CPU has AVX2 (asserted); every pointer read is within the lengths asserted.
    unsafe {
        if rows == 2 {
            tile_avx2::<2>(w, acts, groups, b, r0, sums)
        } else {
            tile_avx2::<1>(w, acts, groups, b, r0, sums)
        }
    }
    rows
}

#[target_feature(enable = "avx2")]
unsafe fn tile_avx2<const R: usize>(w: &[i16], acts: &Acts, groups: usize, b: usize, r0: usize, sums: &mut [i32]) {
    let mut acc = [[_mm256_setzero_si256(); 4]; R];
    let wb = w.as_ptr().add(b * groups * BLOCK * 4);
    let xb = acts.wide.as_ptr().add(r0 * acts.width);
    for g in 0..groups {
        // Four vectors of 4 outputs x 4 inputs each.
        let wp = wb.add(g * BLOCK * 4);
        let wv = [
            _mm256_loadu_si256(wp as *const __m256i),
            _mm256_loadu_si256(wp.add(16) as *const __m256i),
            _mm256_loadu_si256(wp.add(32) as *const __m256i),
            _mm256_loadu_si256(wp.add(48) as *const __m256i),
        ];
        for (r, row) in acc.iter_mut().enumerate() {
            // The row's 4 inputs of this group, repeated for each output.
            let quad = (xb.add(r * acts.width + 4 * g) as *const i64).read_unaligned();
            let xv = _mm256_set1_epi64x(quad);
            for (a, wq) in row.iter_mut().zip(wv) {
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(xv, wq));
            }
        }
    }
    // Each 32-bit lane holds half an output's sum: lanes 2i and 2i + 1 are output i.
    for (r, row) in acc.iter().enumerate() {
        for (v, a) in row.iter().enumerate() {
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, *a);
            for i in 0..4 {
                sums[r * BLOCK + 4 * v + i] = lanes[2 * i] + lanes[2 * i + 1];
            }
        }
    }
}

/// Rows the VNNI kernel sums at once: with [`MAX_BLOCKS`] weight vectors that is 24 accumulators
/// in AVX-512's 32 registers, each broadcast row feeding four multiply-adds and each weight
/// vector six (one weight vector against 8 rows spent a load per multiply-add, and ran at a
/// fifth of the instruction's rate).
const VNNI_ROWS: usize = 6;

/// Sums up to [`VNNI_ROWS`] rows from `r0` against the `nb` (1..=[`MAX_BLOCKS`]) blocks from `b`
/// with VNNI; block i's sums go to `sums[i * MAX_ROWS * BLOCK..]`. Returns how many rows it did.
pub(crate) fn blocks_vnni(
    w: &[i8],
    acts: &Acts,
    groups: usize,
    (b, nb): (usize, usize),
    r0: usize,
    n: usize,
    sums: &mut [i32],
) -> usize {
    let rows = n.min(VNNI_ROWS);
    assert!(rows >= 1 && (1..=MAX_BLOCKS).contains(&nb) && 4 * groups <= acts.width);
    assert!(w.len() >= (b + nb) * groups * BLOCK * 4 && acts.q.len() >= (r0 + rows) * acts.width);
    assert!(sums.len() >= nb * MAX_ROWS * BLOCK);
    assert!(std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vnni"));
    let k = VnniCall { w, acts, groups, b, r0 };
    // SAFETY: the CPU has AVX-512F and VNNI (asserted); reads are within the lengths asserted.
    unsafe {
        match nb {
            4 => k.rows::<4>(rows, sums),
            3 => k.rows::<3>(rows, sums),
            2 => k.rows::<2>(rows, sums),
            _ => k.rows::<1>(rows, sums),
        }
    }
}

/// The operands of one VNNI kernel call.
struct VnniCall<'a> {
    w: &'a [i8],
    acts: &'a Acts,
    groups: usize,
    b: usize,
    r0: usize,
}

impl VnniCall<'_> {
    /// # Safety
    /// As [`Self::tile`].
    #[inline(always)]
    unsafe fn rows<const NB: usize>(&self, rows: usize, sums: &mut [i32]) -> usize {
        match rows {
            6.. => self.tile::<NB, 6>(sums),
            4 | 5 => self.tile::<NB, 4>(sums),
            2 | 3 => self.tile::<NB, 2>(sums),
            _ => self.tile::<NB, 1>(sums),
        }
    }

    /// # Safety
    /// The CPU has AVX-512F and VNNI; `w` holds blocks `b..b + NB`, `acts` rows `r0..r0 + R`,
    /// `sums` NB * MAX_ROWS * BLOCK values ([`blocks_vnni`] asserts all of it).
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile<const NB: usize, const R: usize>(&self, sums: &mut [i32]) -> usize {
        let mut acc = [[_mm512_setzero_si512(); NB]; R];
        let stride = self.groups * BLOCK * 4;
        let wb = self.w.as_ptr().add(self.b * stride);
        let xb = self.acts.q.as_ptr().add(self.r0 * self.acts.width);
        for g in 0..self.groups {
            // Per block, 16 outputs x 4 inputs: one 32-bit lane per output.
            let mut wv = [_mm512_setzero_si512(); NB];
            for (i, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(wb.add(i * stride + g * BLOCK * 4) as *const _);
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let quad = (xb.add(r * self.acts.width + 4 * g) as *const i32).read_unaligned();
                let x = _mm512_set1_epi32(quad);
                for (a, v) in row.iter_mut().zip(wv) {
                    *a = _mm512_dpbusd_epi32(*a, x, v);
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (i, a) in row.iter().enumerate() {
                _mm512_storeu_si512(sums.as_mut_ptr().add(i * MAX_ROWS * BLOCK + r * BLOCK) as *mut _, *a);
            }
        }
        R
    }
}
