//! Cosine similarities between many vectors, through candle's matrix multiply (the naive double
//! loop is two orders of magnitude slower at 10k rows).

use candle_core::{Device, Tensor};

use crate::error::Result;

/// Rows scaled to unit length, as one (n, d) f32 tensor.
pub fn unit_rows(rows: &[Vec<f32>]) -> Result<Tensor> {
    let n = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            r.iter().map(move |x| x / norm)
        })
        .collect();
    Ok(Tensor::from_vec(flat, (n, d), &Device::Cpu)?)
}

/// The full cosine similarity matrix, row-major (n * n).
pub fn cosine_matrix(rows: &[Vec<f32>]) -> Result<Vec<f32>> {
    let u = unit_rows(rows)?;
    Ok(u.matmul(&u.t()?)?.flatten_all()?.to_vec1::<f32>()?)
}

/// For each row, its `k` most similar other rows (index, cosine), most similar first.
pub fn nearest(rows: &[Vec<f32>], k: usize) -> Result<Vec<Vec<(usize, f32)>>> {
    let n = rows.len();
    let u = unit_rows(rows)?;
    let ut = u.t()?.contiguous()?;
    let mut out = Vec::with_capacity(n);
    let chunk = 512;
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let sims = u.narrow(0, start, len)?.matmul(&ut)?.to_vec2::<f32>()?;
        for (r, row) in sims.into_iter().enumerate() {
            let me = start + r;
            let mut idx: Vec<(usize, f32)> = row.into_iter().enumerate().filter(|(j, _)| *j != me).collect();
            let k = k.min(idx.len());
            if k == 0 {
                out.push(Vec::new());
                continue;
            }
            idx.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            idx.truncate(k);
            idx.sort_by(|a, b| b.1.total_cmp(&a.1));
            out.push(idx);
        }
        start += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_and_matrix() {
        let rows = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0], vec![-1.0, 0.0]];
        let nn = nearest(&rows, 2).unwrap();
        assert_eq!(nn[0][0].0, 1);
        assert_eq!(nn[2][0].0, 1);
        assert_eq!(nn[3].len(), 2);
        let m = cosine_matrix(&rows).unwrap();
        assert!((m[0] - 1.0).abs() < 1e-6 && (m[3] + 1.0).abs() < 1e-6);
    }
}
