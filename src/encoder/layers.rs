//! The building blocks of an encoder. Layer norm, GELU and attention's softmax run on attune's
//! fused [`kernels`], whose backward passes reach every weight; candle's own fused `layer_norm`
//! and `softmax_last_dim` record none (see shared/docs/CANDLE.md).

use candle_core::{DType, Tensor};
use rand::Rng;

use super::mode::ForwardMode;
use std::sync::Arc;

use super::precision::Precision;
use crate::error::Result;
use crate::kernels;
use crate::kernels::quant::{Bf16Linear, Bf16Weight, F32Weight, Int8Weight, LowMatmul, LowWeight};

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
    /// The weight held for inference passes, used by them when set: in a lower precision, or
    /// in f32 transposed for a frozen encoder (see [`F32Weight`]: the GEMM's packing went from
    /// 10 % of an all-mpnet-base-v2 embedding profile to 4.5 %; BENCHMARKS.md, "Weights laid out
    /// for inference").
    low: Option<LowMatmul>,
    /// Training (and exact) passes multiply in bf16 on the f32 weights.
    train_bf16: bool,
}

impl Linear {
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear {
            weight,
            bias,
            low: None,
            train_bf16: false,
        }
    }

    /// Makes training and exact passes multiply in bf16 (f32 sums, f32 weights and gradients),
    /// or in f32 again.
    pub fn set_train_bf16(&mut self, on: bool) {
        self.train_bf16 = on;
    }

    /// Makes inference passes compute in `precision` from a copy of the current f32 weights (set
    /// it again after changing them). In f32 the copy is kept only when `frozen` (the weights
    /// will not change) and the weights are f32 on the CPU; otherwise f32 passes multiply by the
    /// weights themselves. Training passes always use the weights themselves.
    pub fn set_precision(&mut self, precision: Precision, frozen: bool) -> Result<()> {
        let f32_copy = frozen && self.weight.dtype() == DType::F32 && self.weight.device().is_cpu();
        if precision == Precision::F32 && !f32_copy {
            self.low = None;
            return Ok(());
        }
        let (out, inp) = self.weight.dims2()?;
        let w = self.weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let b = match &self.bias {
            Some(b) => Some(b.to_dtype(DType::F32)?.to_vec1::<f32>()?),
            None => None,
        };
        let b = b.as_deref();
        let low = match precision {
            Precision::F32 => LowWeight::F32(F32Weight::new(&w, out, inp, b)),
            Precision::Int8 => LowWeight::Int8(Int8Weight::quantize(&w, out, inp, b)),
            Precision::Bf16 => LowWeight::Bf16(Bf16Weight::quantize(&w, out, inp, b)),
        };
        self.low = Some(LowMatmul(Arc::new(low)));
        Ok(())
    }

    /// Bytes held besides the weight and bias themselves (the copy inference passes use).
    pub fn copy_bytes(&self) -> usize {
        self.low.as_ref().map_or(0, |l| l.0.bytes())
    }

    /// `x` as (rows, in), and the shape of the output: `x`'s leading dimensions and `out`.
    fn as_rows(&self, x: &Tensor) -> Result<(Tensor, Vec<usize>)> {
        let Some((last, lead)) = x.dims().split_last() else {
            return Err(candle_core::Error::Msg("linear: input has no dimensions".into()).into());
        };
        let rows: usize = lead.iter().product();
        let mut shape = lead.to_vec();
        shape.push(self.weight.dim(0)?);
        Ok((x.reshape((rows, *last))?, shape))
    }

    pub fn forward(&self, x: &Tensor, mode: &ForwardMode) -> Result<Tensor> {
        let (x2, shape) = self.as_rows(x)?;
        let low = self.low.as_ref().filter(|_| mode.is_inference());
        let y = match low {
            Some(low) => low
                .forward(&x2.to_dtype(candle_core::DType::F32)?)?
                .to_dtype(x.dtype())?,
            None if self.train_bf16 && !mode.is_inference() => {
                let f32 = candle_core::DType::F32;
                let y = Bf16Linear::forward(&x2.to_dtype(f32)?, &self.weight.to_dtype(f32)?)?.to_dtype(x.dtype())?;
                match &self.bias {
                    Some(b) => kernels::bias_add(&y, b)?,
                    None => y,
                }
            }
            None => {
                let y = x2.matmul(&w(&self.weight, mode).t()?)?;
                match &self.bias {
                    Some(b) => kernels::bias_add(&y, &w(b, mode))?,
                    None => y,
                }
            }
        };
        Ok(y.reshape(shape)?)
    }

    /// The inference copy this pass multiplies by, with `x` as (rows, in) in f32 and the shape
    /// of the output; `None` when the pass uses the weights themselves or the fused kernels are
    /// off.
    fn fused_input(&self, x: &Tensor, mode: &ForwardMode) -> Result<Option<(&LowMatmul, Tensor, Vec<usize>)>> {
        let Some(low) = self.low.as_ref().filter(|_| mode.is_inference() && kernels::fused()) else {
            return Ok(None);
        };
        let (x2, shape) = self.as_rows(x)?;
        Ok(Some((low, x2.to_dtype(DType::F32)?, shape)))
    }

    /// `gelu(x W^T + b)`, the erf form. On an inference copy GELU runs in place on the product
    /// (no second buffer); otherwise [`Self::forward`], then [`kernels::gelu_erf`].
    pub fn forward_gelu(&self, x: &Tensor, mode: &ForwardMode) -> Result<Tensor> {
        match self.fused_input(x, mode)? {
            Some((low, x2, shape)) => Ok(low.forward_gelu(&x2)?.to_dtype(x.dtype())?.reshape(shape)?),
            None => Ok(kernels::gelu_erf(&self.forward(x, mode)?)?),
        }
    }

    /// `norm(x W^T + b + residual)`. On an inference copy the residual is added and the norm
    /// runs in place on the product; otherwise [`Self::forward`], the sum, then the norm.
    pub fn forward_add_norm(
        &self,
        x: &Tensor,
        residual: &Tensor,
        norm: &LayerNorm,
        mode: &ForwardMode,
    ) -> Result<Tensor> {
        match self.fused_input(x, mode)? {
            Some((low, x2, shape)) => {
                let r = residual
                    .reshape((x2.dim(0)?, self.weight.dim(0)?))?
                    .to_dtype(DType::F32)?;
                let weight = norm.weight.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                let bias = norm.bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                let y = low.forward_add_norm(&x2, &r, weight, bias, norm.eps)?;
                Ok(y.to_dtype(x.dtype())?.reshape(shape)?)
            }
            None => norm.forward(&self.forward(x, mode)?.add(residual)?, mode),
        }
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
        Ok(kernels::layer_norm(
            x,
            &w(&self.weight, mode),
            &w(&self.bias, mode),
            self.eps,
        )?)
    }
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
    use candle_core::{DType, Device};
    use rand::SeedableRng;

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
