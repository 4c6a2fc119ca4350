//! Principal component analysis by the cyclic Jacobi eigenvalue method on the covariance matrix:
//! exact, deterministic, and fast enough for embedding widths (384 dims: well under a second).
//! Each component's sign is fixed so that its largest-magnitude coordinate is positive, so the
//! same data always gives the same picture.

use crate::error::{Error, Result};

/// A fitted projection.
#[derive(Debug, Clone)]
pub struct Pca {
    pub mean: Vec<f64>,
    /// Components, one row of length d each, by decreasing variance.
    pub components: Vec<Vec<f64>>,
    /// Variance along each component.
    pub variance: Vec<f64>,
    /// Share of the total variance each component explains.
    pub explained_ratio: Vec<f64>,
}

impl Pca {
    /// Fits the top `k` components of `rows`.
    pub fn fit(rows: &[Vec<f32>], k: usize) -> Result<Self> {
        let n = rows.len();
        if n < 2 {
            return Err(Error::InvalidArgument(format!("PCA needs at least 2 points, got {n}")));
        }
        let d = rows[0].len();
        if rows.iter().any(|r| r.len() != d) {
            return Err(Error::InvalidArgument("PCA needs rows of one length".into()));
        }
        let k = k.min(d);
        let mut mean = vec![0f64; d];
        for r in rows {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut cov = vec![0f64; d * d];
        let mut centered = vec![0f64; d];
        for r in rows {
            for (c, (v, m)) in centered.iter_mut().zip(r.iter().zip(&mean)) {
                *c = *v as f64 - m;
            }
            for i in 0..d {
                let ci = centered[i];
                if ci == 0.0 {
                    continue;
                }
                let row = &mut cov[i * d..(i + 1) * d];
                for (j, cj) in centered.iter().enumerate().skip(i) {
                    row[j] += ci * cj;
                }
            }
        }
        for i in 0..d {
            for j in i..d {
                let v = cov[i * d + j] / (n - 1) as f64;
                cov[i * d + j] = v;
                cov[j * d + i] = v;
            }
        }
        let (values, vectors) = jacobi_eigen(cov, d);
        let total: f64 = values.iter().sum();
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|a, b| values[*b].total_cmp(&values[*a]));
        let mut components = Vec::with_capacity(k);
        let mut variance = Vec::with_capacity(k);
        for &c in order.iter().take(k) {
            let mut v: Vec<f64> = (0..d).map(|i| vectors[i * d + c]).collect();
            let (imax, _) =
                v.iter().enumerate().fold(
                    (0, 0.0f64),
                    |acc, (i, x)| if x.abs() > acc.1.abs() + 1e-12 { (i, *x) } else { acc },
                );
            if v[imax] < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            components.push(v);
            variance.push(values[c].max(0.0));
        }
        let explained_ratio = variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Pca {
            mean,
            components,
            variance,
            explained_ratio,
        })
    }

    /// Projects `rows` onto the components.
    pub fn transform(&self, rows: &[Vec<f32>]) -> Vec<Vec<f64>> {
        rows.iter()
            .map(|r| {
                self.components
                    .iter()
                    .map(|c| {
                        c.iter()
                            .zip(r.iter().zip(&self.mean))
                            .map(|(w, (v, m))| w * (*v as f64 - m))
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }
}

/// Eigen-decomposition of the symmetric `d x d` matrix `a` (row-major). Returns the eigenvalues
/// and the eigenvectors as the columns of a row-major matrix.
fn jacobi_eigen(mut a: Vec<f64>, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-12 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let app = a[p * d + p];
                let aqq = a[q * d + q];
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line y = 2x with small noise along (2, -1): the first component is (1, 2)/sqrt(5)
    /// with almost all the variance, the second (2, -1)/sqrt(5), both with a positive largest entry.
    #[test]
    fn hand_checked_line() {
        // t = -3.5 .. 3.5; the noise is +0.1 at |t| = 0.5, 3.5 and -0.1 at |t| = 1.5, 2.5: it has
        // mean 0 and no correlation with t, so the axes are exact and the mean is (3, -1).
        let rows: Vec<Vec<f32>> = (0..8)
            .map(|i| {
                let t = i as f32 - 3.5;
                let e = if matches!(t.abs(), 0.5 | 3.5) { 0.1 } else { -0.1 };
                vec![t + 2.0 * e + 3.0, 2.0 * t - e - 1.0]
            })
            .collect();
        let p = Pca::fit(&rows, 2).unwrap();
        let s5 = 5f64.sqrt();
        assert!(
            (p.components[0][0] - 1.0 / s5).abs() < 1e-3 && (p.components[0][1] - 2.0 / s5).abs() < 1e-3,
            "{:?}",
            p.components
        );
        assert!(
            (p.components[1][0] - 2.0 / s5).abs() < 1e-3 && (p.components[1][1] + 1.0 / s5).abs() < 1e-3,
            "{:?}",
            p.components
        );
        assert!(p.variance[0] > p.variance[1]);
        assert!(p.explained_ratio[0] > 0.99 && (p.explained_ratio.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // The mean maps to the origin.
        let t = p.transform(&[vec![3.0, -1.0]]);
        assert!(t[0][0].abs() < 1e-6 && t[0][1].abs() < 1e-6);
    }

    #[test]
    fn diagonal_covariance_orders_by_variance_and_is_sign_stable() {
        // Variances 1, 9, 4 along the axes: components are e2, e3, e1.
        let mut rows = Vec::new();
        for s in [-1.0f32, 1.0] {
            rows.push(vec![s, 0.0, 0.0]);
            rows.push(vec![0.0, 3.0 * s, 0.0]);
            rows.push(vec![0.0, 0.0, 2.0 * s]);
        }
        let p = Pca::fit(&rows, 3).unwrap();
        assert_eq!(p.components[0], vec![0.0, 1.0, 0.0]);
        assert_eq!(p.components[1], vec![0.0, 0.0, 1.0]);
        assert_eq!(p.components[2], vec![1.0, 0.0, 0.0]);
        let flipped: Vec<Vec<f32>> = rows.iter().rev().cloned().collect();
        let q = Pca::fit(&flipped, 2).unwrap();
        assert_eq!(p.components[..2], q.components[..], "row order does not flip signs");
    }

    #[test]
    fn one_point_is_an_error() {
        assert!(Pca::fit(&[vec![1.0, 2.0]], 2).is_err());
    }
}
