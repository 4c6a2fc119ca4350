//! The building blocks of an encoder, written on candle primitives so that gradients reach
//! every weight. candle's fused `layer_norm` and `softmax_last_dim` record no backward pass
//! (see shared/docs/CANDLE.md), so they are used only in [`ForwardMode::Inference`].

use candle_core::{DType, Tensor, D};
use rand::Rng;

use super::mode::ForwardMode;
use crate::error::Result;

/// Returns the weight as used by this pass: detached for inference, so no graph is recorded.
pub(crate) fn w(t: &Tensor, mode: &ForwardMode) -> Tensor {
    if mode.is_inference() {
        t.detach()
    } else {
        t.clone()
    }
}

/// `y = x W^T + b` for `x` of shape (..., in), `W` of shape (out, in).
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn forward(&self, x: &Tensor, mode: &ForwardMode) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let Some((last, lead)) = dims.split_last() else {
            return Err(candle_core::Error::Msg("linear: input has no dimensions".into()).into());
        };
        let rows: usize = lead.iter().product();
        let x2 = x.reshape((rows, *last))?;
        let mut y = x2.matmul(&w(&self.weight, mode).t()?)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(&w(b, mode))?;
        }
        let out = self.weight.dim(0)?;
        let mut shape = lead.to_vec();
        shape.push(out);
        Ok(y.reshape(shape)?)
    }
}

/// Layer normalisation over the last dimension.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f64,
}

impl LayerNorm {
    pub fn forward(&self, x: &Tensor, mode: &ForwardMode) -> Result<Tensor> {
        if mode.is_inference() && x.dtype() == DType::F32 {
            let x = x.contiguous()?;
            return Ok(candle_nn::ops::layer_norm(
                &x,
                &self.weight.detach(),
                &self.bias.detach(),
                self.eps as f32,
            )?);
        }
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let xn = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(xn.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
    }
}

/// Softmax over the last dimension.
pub fn softmax_last(x: &Tensor, mode: &ForwardMode) -> Result<Tensor> {
    if mode.is_inference() {
        return Ok(candle_nn::ops::softmax_last_dim(&x.contiguous()?)?);
    }
    Ok(candle_nn::ops::softmax(x, D::Minus1)?)
}

/// Inverted dropout: in training, zeroes each element with probability `p` and scales the rest
/// by `1 / (1 - p)`. The mask comes from the mode's RNG, so a seed fixes it.
pub fn dropout(x: &Tensor, p: f64, mode: &mut ForwardMode) -> Result<Tensor> {
    let ForwardMode::Train(rng) = mode else {
        return Ok(x.clone());
    };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - p;
    let scale = 1.0 / keep;
    let n = x.elem_count();
    let mask: Vec<f32> = (0..n)
        .map(|_| if rng.gen::<f64>() < keep { scale as f32 } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    Ok(x.mul(&mask)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::SeedableRng;

    #[test]
    fn layer_norm_paths_agree() {
        let dev = Device::Cpu;
        let x = Tensor::arange(0f32, 24., &dev).unwrap().reshape((2, 3, 4)).unwrap();
        let x = (x.sqr().unwrap() * 0.1).unwrap();
        let ln = LayerNorm {
            weight: Tensor::new(&[1f32, 2., 0.5, -1.], &dev).unwrap(),
            bias: Tensor::new(&[0f32, 0.1, 0.2, 0.3], &dev).unwrap(),
            eps: 1e-12,
        };
        let a = ln.forward(&x, &ForwardMode::Inference).unwrap();
        let b = ln.forward(&x, &ForwardMode::Exact).unwrap();
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < 1e-5, "fused and exact layer norm differ by {d}");
    }

    #[test]
    fn dropout_is_seeded_and_scaled() {
        let dev = Device::Cpu;
        let x = Tensor::ones((1000,), DType::F32, &dev).unwrap();
        let mut r1 = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut r2 = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let a = dropout(&x, 0.1, &mut ForwardMode::Train(&mut r1))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = dropout(&x, 0.1, &mut ForwardMode::Train(&mut r2))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(a, b);
        let zeros = a.iter().filter(|v| **v == 0.0).count();
        assert!((50..150).contains(&zeros), "{zeros} of 1000 dropped at p=0.1");
        assert!(a.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.9).abs() < 1e-6));
        let same = dropout(&x, 0.1, &mut ForwardMode::Exact)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!(same.iter().all(|v| *v == 1.0));
    }
}
