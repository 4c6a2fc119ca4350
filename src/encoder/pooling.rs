//! Pooling token states into one vector per text, then the optional L2 normalisation, as
//! sentence-transformers' `Pooling` and `Normalize` modules do.

use candle_core::{Tensor, D};

use super::config::PoolingConfig;
use crate::error::Result;

/// Pools `states` (batch, seq, hidden) under `mask` (batch, seq) into (batch, dims).
pub fn pool(states: &Tensor, mask: &Tensor, cfg: &PoolingConfig) -> Result<Tensor> {
    let mask = mask.to_dtype(states.dtype())?.unsqueeze(2)?;
    let mut parts = Vec::new();
    if cfg.pooling_mode_cls_token {
        parts.push(states.narrow(1, 0, 1)?.squeeze(1)?);
    }
    if cfg.pooling_mode_max_tokens {
        // Padding gets -1e9 so it never wins the max, as in sentence-transformers.
        let neg = ((mask.ones_like()? - &mask)? * -1e9)?;
        parts.push(states.broadcast_mul(&mask)?.broadcast_add(&neg)?.max(1)?);
    }
    if cfg.pooling_mode_mean_tokens || cfg.pooling_mode_mean_sqrt_len_tokens {
        let sum = states.broadcast_mul(&mask)?.sum(1)?;
        let count = mask.sum(1)?.clamp(1e-9, f64::INFINITY)?;
        if cfg.pooling_mode_mean_tokens {
            parts.push(sum.broadcast_div(&count)?);
        }
        if cfg.pooling_mode_mean_sqrt_len_tokens {
            parts.push(sum.broadcast_div(&count.sqrt()?)?);
        }
    }
    Ok(Tensor::cat(&parts, 1)?)
}

/// Scales each row to unit L2 norm (rows of norm under 1e-12 are divided by 1e-12, as
/// PyTorch's `F.normalize` does).
pub fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::INFINITY)?;
    Ok(x.broadcast_div(&norm)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn cfg(cls: bool, mean: bool, max: bool) -> PoolingConfig {
        PoolingConfig {
            word_embedding_dimension: 2,
            pooling_mode_cls_token: cls,
            pooling_mode_mean_tokens: mean,
            pooling_mode_max_tokens: max,
            pooling_mode_mean_sqrt_len_tokens: false,
        }
    }

    #[test]
    fn modes_ignore_padding() {
        let dev = Device::Cpu;
        // One text of 2 real tokens and one padding token with large values.
        let states = Tensor::new(&[[[1f32, -2.], [3., -4.], [100., 100.]]], &dev).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 0]], &dev).unwrap();
        let v = |c| pool(&states, &mask, &c).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(v(cfg(false, true, false)), vec![vec![2., -3.]]);
        assert_eq!(v(cfg(true, false, false)), vec![vec![1., -2.]]);
        assert_eq!(v(cfg(false, false, true)), vec![vec![3., -2.]]);
        assert_eq!(v(cfg(true, true, false)), vec![vec![1., -2., 2., -3.]]);
    }

    #[test]
    fn normalize_gives_unit_rows() {
        let x = Tensor::new(&[[3f32, 4.], [0., 0.]], &Device::Cpu).unwrap();
        let n = normalize(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(n, vec![vec![0.6, 0.8], vec![0., 0.]]);
    }
}
