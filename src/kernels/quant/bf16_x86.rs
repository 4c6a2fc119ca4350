//! The bf16 kernels for x86-64: AVX2+FMA widens bf16 to f32 in registers (a shift for the even
//! input of a pair, a mask for the odd one) and multiply-adds in input order; AVX-512 BF16 sums
//! pairs with `vdpbf16ps`.

use std::arch::x86_64::*;

use super::bf16::{Acts, MAX_ROWS};
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

/// Sums up to [`MAX_ROWS`] rows from `r0` against block `b` with `vdpbf16ps`; returns how many.
pub(crate) fn block_dpbf16(
    w: &[u16],
    acts: &Acts,
    pairs: usize,
    b: usize,
    r0: usize,
    n: usize,
    sums: &mut [f32],
) -> usize {
    let rows = n.min(MAX_ROWS);
    assert!(rows >= 1 && 2 * pairs <= acts.width);
    assert!(w.len() >= (b + 1) * pairs * BLOCK * 2 && acts.bits.len() >= (r0 + rows) * acts.width);
    assert!(sums.len() >= rows * BLOCK);
    assert!(std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bf16"));
    // SAFETY: the CPU has AVX-512F and BF16 (asserted); reads are within the lengths asserted.
    unsafe {
        match rows {
            8 => tile_dpbf16::<8>(w, acts, pairs, b, r0, sums),
            4..=7 => tile_dpbf16::<4>(w, acts, pairs, b, r0, sums),
            _ => tile_dpbf16::<1>(w, acts, pairs, b, r0, sums),
        }
    }
}

#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn tile_dpbf16<const R: usize>(
    w: &[u16],
    acts: &Acts,
    pairs: usize,
    b: usize,
    r0: usize,
    sums: &mut [f32],
) -> usize {
    let mut acc = [_mm512_setzero_ps(); R];
    let wb = w.as_ptr().add(b * pairs * BLOCK * 2);
    let xb = acts.bits.as_ptr().add(r0 * acts.width);
    for p in 0..pairs {
        let wv = std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(wb.add(p * BLOCK * 2) as *const _));
        for (r, a) in acc.iter_mut().enumerate() {
            let pair = (xb.add(r * acts.width + 2 * p) as *const i32).read_unaligned();
            let xv = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair));
            *a = _mm512_dpbf16_ps(*a, xv, wv);
        }
    }
    for (r, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(sums.as_mut_ptr().add(r * BLOCK), *a);
    }
    R
}
