//! The lower-precision linear layer as a candle op, so the encoder's graph code stays the same.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::LowWeight;

use crate::kernels::input;

/// `x W^T + b` with `W` (and `b`) from a [`LowWeight`], for `x` of shape (rows, in) in f32 on
/// the CPU. Inference only: it records no backward pass.
#[derive(Debug, Clone)]
pub struct LowMatmul(pub Arc<LowWeight>);

impl LowMatmul {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for LowMatmul {
    fn name(&self) -> &'static str {
        "attune-low-matmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, inp) = l.shape().dims2()?;
        let x = input::<f32>(s, l, "low-precision matmul")?;
        let want = self.0.in_features();
        if inp != want {
            return Err(candle_core::Error::Msg(format!(
                "low-precision matmul: input width {inp}, the weight takes {want}"
            )));
        }
        let y = self.0.matmul(x, rows);
        Ok((CpuStorage::F32(y), Shape::from((rows, self.0.out_features()))))
    }
}
