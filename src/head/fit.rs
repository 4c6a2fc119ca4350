//! The fit both heads share: a linear layer (weights (k, d), biases (k)) from zero, full-batch
//! Adam with a decaying step size, and an L2 on the weights. Each head brings its own loss.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::error::Result;

/// Embeddings as a (rows, dim) tensor.
pub(crate) fn matrix(rows: &[Vec<f32>]) -> Result<Tensor> {
    let d = rows.first().map_or(0, Vec::len);
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Ok(Tensor::from_vec(flat, (rows.len(), d), &Device::Cpu)?)
}

/// How the linear layer is optimised.
pub(crate) struct LinearFit {
    /// L2 strength: `l2 / 2 * |W|^2` is added to the loss (the biases are not penalised).
    pub l2: f64,
    /// Adam's first step size.
    pub learning_rate: f64,
    pub steps: usize,
}

impl LinearFit {
    /// Minimises `data_loss(x W^T + b) + l2 / 2 |W|^2` over `x` (rows, d) for `k` outputs, and
    /// returns the row-major weights and the biases.
    pub(crate) fn run(
        &self,
        x: &Tensor,
        k: usize,
        data_loss: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let d = x.dim(1)?;
        let w = Var::zeros((k, d), DType::F32, &Device::Cpu)?;
        let b = Var::zeros(k, DType::F32, &Device::Cpu)?;
        let mut opt = AdamW::new(
            vec![w.clone(), b.clone()],
            ParamsAdamW {
                lr: self.learning_rate,
                weight_decay: 0.0,
                ..Default::default()
            },
        )?;
        for step in 0..self.steps {
            // Decay the step size over the run so the optimum is approached closely.
            let left = 1.0 - step as f64 / self.steps as f64;
            opt.set_learning_rate(self.learning_rate * left.max(0.02));
            let z = x.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor())?;
            let data = data_loss(&z)?;
            let reg = (w.as_tensor().sqr()?.sum_all()? * (0.5 * self.l2))?;
            opt.backward_step(&(data + reg)?)?;
        }
        Ok((w.as_tensor().flatten_all()?.to_vec1()?, b.as_tensor().to_vec1()?))
    }
}
