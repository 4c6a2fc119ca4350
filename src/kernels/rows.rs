//! Runs a row kernel over a matrix: whole rows split across the rayon pool (the one the matrix
//! multiply uses), each chunk compiled for the widest SIMD the CPU has, detected at run time.

use std::sync::atomic::{AtomicU8, Ordering};

use rayon::prelude::*;

/// Below this many elements a task costs more to hand out than to run.
const MIN_ELEMS_PER_TASK: usize = 8 * 1024;

fn rows_per_task(rows: usize, cols: usize) -> usize {
    let by_size = (MIN_ELEMS_PER_TASK / cols.max(1)).max(1);
    let by_threads = rows.div_ceil(4 * rayon::current_num_threads()).max(1);
    by_size.max(by_threads)
}

/// Element-wise `a + b`, joining two chunks' partial sums.
fn add_into<T: Copy + std::ops::Add<Output = T>>(mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x = *x + y);
    a
}

/// Calls `f(first_row, chunk)` over chunks of whole rows of `out` (rows of `cols` elements).
/// Mark `f` `#[inline(always)]`, as for every function here: only then is it compiled for the
/// instruction set [`simd`] picks.
pub(crate) fn par_rows<T, F>(out: &mut [T], cols: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let rows = out.len() / cols.max(1);
    let per = rows_per_task(rows, cols);
    if per >= rows {
        simd(
            #[inline(always)]
            || f(0, out),
        );
        return;
    }
    out.par_chunks_mut(per * cols).enumerate().for_each(|(i, chunk)| {
        simd(
            #[inline(always)]
            || f(i * per, chunk),
        )
    });
}

/// Like [`par_rows`], where each chunk also returns `len` partial sums (a reduction over rows,
/// such as a bias gradient); returns their total.
pub(crate) fn par_rows_sum<T, F>(out: &mut [T], cols: usize, len: usize, f: F) -> Vec<T>
where
    T: Send + Copy + std::ops::Add<Output = T> + num_traits::Zero,
    F: Fn(usize, &mut [T]) -> Vec<T> + Sync,
{
    let rows = out.len() / cols.max(1);
    let per = rows_per_task(rows, cols);
    if per >= rows {
        return simd(
            #[inline(always)]
            || f(0, out),
        );
    }
    out.par_chunks_mut(per * cols)
        .enumerate()
        .map(|(i, chunk)| {
            simd(
                #[inline(always)]
                || f(i * per, chunk),
            )
        })
        .reduce(|| vec![T::zero(); len], add_into)
}

/// Sums `f(chunk)` (each `len` long) over chunks of whole rows of `data`, a read-only input.
pub(crate) fn par_reduce_rows<T, F>(data: &[T], cols: usize, len: usize, f: F) -> Vec<T>
where
    T: Send + Sync + Copy + std::ops::Add<Output = T> + num_traits::Zero,
    F: Fn(&[T]) -> Vec<T> + Sync,
{
    let rows = data.len() / cols.max(1);
    let per = rows_per_task(rows, cols);
    if per >= rows {
        return simd(
            #[inline(always)]
            || f(data),
        );
    }
    data.par_chunks(per * cols)
        .map(|chunk| {
            simd(
                #[inline(always)]
                || f(chunk),
            )
        })
        .reduce(|| vec![T::zero(); len], add_into)
}

/// The instruction sets the kernels are compiled for, widest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// The target's baseline (SSE2 on x86-64).
    Baseline = 0,
    Avx2 = 1,
    Avx512 = 2,
}

static LIMIT: AtomicU8 = AtomicU8::new(Simd::Avx512 as u8);

/// Caps the instruction set the kernels use, so tests can run the AVX2 and baseline builds on
/// an AVX-512 machine. Process-wide.
pub fn limit_simd(level: Simd) {
    LIMIT.store(level as u8, Ordering::Relaxed);
}

/// The instruction set the kernels run with on this CPU, under the cap.
pub fn simd_level() -> Simd {
    let cap = LIMIT.load(Ordering::Relaxed);
    #[cfg(target_arch = "x86_64")]
    {
        // Every feature `with_avx512` enables, not only AVX-512F (Knights Landing has F without BW).
        if cap >= Simd::Avx512 as u8
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            return Simd::Avx512;
        }
        if cap >= Simd::Avx2 as u8
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            return Simd::Avx2;
        }
    }
    let _ = cap;
    Simd::Baseline
}

/// Runs `f` compiled for AVX-512 or AVX2+FMA when the CPU has them. `f` and what it calls are
/// inlined into the feature-enabled function, so its loops vectorise for that CPU. Inlining is
/// only certain where every closure on the way is `#[inline(always)]` (a callee is compiled for
/// the baseline otherwise): without that, LLVM kept the larger kernels (attention's softmax,
/// layer norm, the int8 epilogue) out of line, and they ran as SSE2 code on AVX-512 CPUs.
#[inline(always)]
pub(crate) fn simd<R>(f: impl FnOnce() -> R) -> R {
    match simd_level() {
        // SAFETY: `simd_level` has checked that the CPU has the features each function enables.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { with_avx512(f) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { with_avx2(f) },
        _ => f(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]
fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
