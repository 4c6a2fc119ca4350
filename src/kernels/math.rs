//! Scalar formulas that the kernels apply element by element. The f32 versions are branch-free
//! (selects, not jumps), so loops over them vectorise; f64 uses libm, for gradient checks.

use num_traits::Float;

/// The element types the kernels run on.
pub(crate) trait Real:
    Float + std::ops::AddAssign + std::ops::MulAssign + Send + Sync + std::iter::Sum + 'static
{
    fn exp_(self) -> Self;
    /// `Φ(x)`, the standard normal CDF, and `φ(x)`, its density.
    fn phi(self) -> (Self, Self);
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl Real for f64 {
    fn exp_(self) -> Self {
        self.exp()
    }
    fn phi(self) -> (Self, Self) {
        let cdf = 0.5 * libm::erfc(-self * std::f64::consts::FRAC_1_SQRT_2);
        (cdf, FRAC_1_SQRT_2PI * (-0.5 * self * self).exp())
    }
}

impl Real for f32 {
    #[inline(always)]
    fn exp_(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn phi(self) -> (Self, Self) {
        phi_f32(self)
    }
}

/// `e^x` to about 2 ulp: Cody-Waite reduction to `r` in [-ln2/2, ln2/2] and Cephes' degree-6
/// polynomial (its coefficients as published). Below -87.3 it returns 0 (the masked-out logits of attention land there).
#[allow(clippy::excessive_precision)]
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let xc = x.clamp(-87.3, 88.3);
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let scale = f32::from_bits(((ni + 127) << 23) as u32);
    if x < -87.3 {
        0.0
    } else {
        e * scale
    }
}

/// `Φ(x)` and `φ(x)` in f32. `erfc` is Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7),
/// applied to |x| so the left tail keeps its relative accuracy instead of cancelling `1 - 1`.
#[inline(always)]
pub(crate) fn phi_f32(x: f32) -> (f32, f32) {
    let a = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    let g = exp_f32(-a * a);
    let half_erfc = 0.5 * poly * g;
    let cdf = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    (cdf, FRAC_1_SQRT_2PI as f32 * g)
}

/// Folds `f(acc, a[i], b[i])` over two equal-length slices with 16 independent accumulators,
/// joined by `join` at the end. Floating-point reductions in one accumulator cannot vectorise
/// (the compiler may not reorder the additions); 16 lanes can.
#[inline(always)]
pub(crate) fn fold2<T: Real>(a: &[T], b: &[T], init: T, f: impl Fn(T, T, T) -> T, join: impl Fn(T, T) -> T) -> T {
    const LANES: usize = 16;
    let mut acc = [init; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..LANES {
            acc[i] = f(acc[i], x[i], y[i]);
        }
    }
    let mut tail = init;
    for (&x, &y) in ar.iter().zip(br) {
        tail = f(tail, x, y);
    }
    acc.iter().fold(tail, |s, &v| join(s, v))
}

/// `sum(f(a[i], b[i]))`, vectorised.
#[inline(always)]
pub(crate) fn sum2<T: Real>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    fold2(a, b, T::zero(), |s, x, y| s + f(x, y), |s, v| s + v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std() {
        let mut worst = 0f64;
        for i in -8700..8800 {
            let x = i as f32 * 0.01;
            let rel = ((exp_f32(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 4e-7, "exp relative error {worst}");
        assert_eq!(exp_f32(-1e9), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn lane_sums_cover_every_element() {
        for n in [0, 1, 15, 16, 17, 33, 384] {
            let a: Vec<f64> = (0..n).map(|i| i as f64 + 1.0).collect();
            let want = (n * (n + 1) / 2) as f64;
            assert_eq!(sum2(&a, &a, |x, _| x), want, "n = {n}");
            let max = fold2(&a, &a, f64::NEG_INFINITY, |m, x, _| m.max(x), f64::max);
            assert_eq!(max, if n == 0 { f64::NEG_INFINITY } else { n as f64 });
        }
    }

    #[test]
    fn phi_matches_libm() {
        let mut worst = 0f64;
        for i in -1000..1000 {
            let x = i as f32 * 0.01;
            let (c, d) = phi_f32(x);
            let (c64, d64) = (x as f64).phi();
            worst = worst.max((c as f64 - c64).abs()).max((d as f64 - d64).abs());
        }
        assert!(worst < 3e-7, "Φ/φ absolute error {worst}");
    }
}
