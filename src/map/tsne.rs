//! t-SNE through the `bhtsne` crate (Barnes-Hut), started from the PCA projection rather than
//! a random one, so the same data always gives the same map (and global layout is kept better).

use super::pca::Pca;
use crate::error::{Error, Result};

/// Fewest points t-SNE is run on (its perplexity needs n - 1 >= 3 * perplexity, perplexity >= 2).
pub const MIN_POINTS: usize = 7;

/// Projects `rows` to 2D with t-SNE on Euclidean distances between unit vectors (which order
/// pairs as cosine distance does).
pub fn project(rows: &[Vec<f32>]) -> Result<Vec<[f64; 2]>> {
    let n = rows.len();
    if n < MIN_POINTS {
        return Err(Error::TooFewPoints {
            method: "t-SNE",
            have: n,
            need: MIN_POINTS,
        });
    }
    let unit: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| {
            let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            r.iter().map(|x| x / norm).collect()
        })
        .collect();
    let pca = Pca::fit(&unit, 2)?;
    let init = pca.transform(&unit);
    // Scale the start like scikit-learn's init="pca": first axis with standard deviation 1e-4.
    let sd = (init.iter().map(|p| p[0] * p[0]).sum::<f64>() / n as f64)
        .sqrt()
        .max(1e-12);
    let start: Vec<f32> = init
        .iter()
        .flat_map(|p| {
            [
                (p[0] / sd * 1e-4) as f32,
                (p.get(1).copied().unwrap_or(0.0) / sd * 1e-4) as f32,
            ]
        })
        .collect();
    let perplexity = 30f32.min(((n - 1) / 3) as f32);
    // One thread: the parallel Barnes-Hut sums in a varying order, and the map must repeat.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::Internal(format!("t-SNE thread pool: {e}")))?;
    let flat = pool.install(|| {
        let mut tsne: bhtsne::tSNE<f32, Vec<f32>> = bhtsne::tSNE::new(&unit);
        tsne.perplexity(perplexity).epochs(1000).initial_embedding(start);
        tsne.barnes_hut(0.5, |a, b| {
            a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
        });
        tsne.embedding()
    });
    if flat.len() != 2 * n || flat.iter().any(|v| !v.is_finite()) {
        return Err(Error::Internal("t-SNE did not converge to finite coordinates".into()));
    }
    Ok(flat.chunks(2).map(|c| [c[0] as f64, c[1] as f64]).collect())
}
