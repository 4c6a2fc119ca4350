//! The lower-precision linear layer as a candle op, so the encoder's graph code stays the same.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::LowWeight;

use crate::kernels::gelu::gelu_in_place;
use crate::kernels::input;
use crate::kernels::layer_norm::layer_norm_in_place;

/// `x W^T + b` with `W` (and `b`) from a [`LowWeight`], for `x` of shape (rows, in) in f32 on
/// the CPU. Inference only: it records no backward pass.
#[derive(Debug, Clone)]
pub struct LowMatmul(pub Arc<LowWeight>);

impl LowMatmul {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }

    /// `gelu(x W^T + b)`.
    pub fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(&MatmulGelu(self.0.clone()))
    }

    /// `norm(x W^T + b + residual)` with the norm's `weight`, `bias` and `eps`; `residual` is
    /// (rows, out).
    pub fn forward_add_norm(
        &self,
        x: &Tensor,
        residual: &Tensor,
        weight: Vec<f32>,
        bias: Vec<f32>,
        eps: f64,
    ) -> Result<Tensor> {
        let out = self.0.out_features();
        if weight.len() != out || bias.len() != out {
            return Err(candle_core::Error::Msg(format!(
                "fused matmul: a norm of {} and {} for {out} outputs",
                weight.len(),
                bias.len()
            )));
        }
        let op = MatmulAddNorm {
            w: self.0.clone(),
            weight,
            bias,
            eps,
        };
        x.contiguous()?.apply_op2_no_bwd(&residual.contiguous()?, &op)
    }
}

/// The input as `rows` rows of `w`'s input width.
fn input_rows<'a>(w: &LowWeight, s: &'a CpuStorage, l: &Layout, what: &str) -> Result<(&'a [f32], usize)> {
    let (rows, inp) = l.shape().dims2()?;
    let x = input::<f32>(s, l, what)?;
    let want = w.in_features();
    if inp != want {
        return Err(candle_core::Error::Msg(format!(
            "{what}: input width {inp}, the weight takes {want}"
        )));
    }
    Ok((x, rows))
}

impl CustomOp1 for LowMatmul {
    fn name(&self) -> &'static str {
        "attune-low-matmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, rows) = input_rows(&self.0, s, l, "low-precision matmul")?;
        let y = self.0.matmul(x, rows);
        Ok((CpuStorage::F32(y), Shape::from((rows, self.0.out_features()))))
    }
}

// Why the two below: GELU, and the residual add with the layer norm after it, are otherwise
// passes that each allocate a tensor the size of the output. Folded in, an all-mpnet-base-v2
// embedding run took 40 MiB less memory and ran 1.5 % faster (BENCHMARKS.md, "The element-wise
// passes folded into the frozen products").

/// `gelu(x W^T + b)`, GELU in place on the product ([`crate::kernels::gelu_erf`]'s arithmetic).
struct MatmulGelu(Arc<LowWeight>);

impl CustomOp1 for MatmulGelu {
    fn name(&self) -> &'static str {
        "attune-low-matmul-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, rows) = input_rows(&self.0, s, l, "matmul and gelu")?;
        let mut y = self.0.matmul(x, rows);
        gelu_in_place(&mut y);
        Ok((CpuStorage::F32(y), Shape::from((rows, self.0.out_features()))))
    }
}

/// `norm(x W^T + b + residual)`, the residual (the second input) added and the norm run in place
/// on the product ([`crate::kernels::layer_norm`]'s arithmetic).
struct MatmulAddNorm {
    w: Arc<LowWeight>,
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f64,
}

impl CustomOp2 for MatmulAddNorm {
    fn name(&self) -> &'static str {
        "attune-low-matmul-add-norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let what = "matmul, add and norm";
        let (x, rows) = input_rows(&self.w, s1, l1, what)?;
        let out = self.w.out_features();
        let residual = input::<f32>(s2, l2, what)?;
        if l2.shape().dims() != [rows, out] {
            return Err(candle_core::Error::Msg(format!(
                "{what}: a residual of shape {:?} for {rows} rows of {out}",
                l2.shape().dims()
            )));
        }
        let mut y = self.w.matmul_plus(x, rows, residual);
        layer_norm_in_place(&mut y, &self.weight, &self.bias, self.eps);
        Ok((CpuStorage::F32(y), Shape::from((rows, out))))
    }
}
