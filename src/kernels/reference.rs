//! The plain versions of the fused kernels, built from candle primitives (whose backward passes
//! candle records). They define what the kernels must compute, and serve devices and dtypes the
//! kernels do not cover.

use candle_core::{Result, Tensor, D};

pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.gelu_erf()
}

pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    xn.broadcast_mul(weight)?.broadcast_add(bias)
}

pub fn masked_softmax(scores: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
    let (b, k) = bias.dims2()?;
    let mut shape = vec![1; scores.rank()];
    shape[0] = b;
    if let Some(last) = shape.last_mut() {
        *last = k;
    }
    let logits = (scores * scale)?.broadcast_add(&bias.detach().reshape(shape)?)?;
    candle_nn::ops::softmax(&logits, D::Minus1)
}
