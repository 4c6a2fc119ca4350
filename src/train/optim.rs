//! AdamW with decoupled weight decay (as PyTorch's), updating each weight in place, with its
//! moments kept as plain vectors so that a checkpoint can save and restore them exactly. Biases
//! and layer-norm weights get no weight decay, the usual convention for BERT fine-tuning.
//!
//! candle's own `AdamW` allocates several temporaries per weight per step and silently skips a
//! variable without a gradient; this one errors instead (see shared/docs/CANDLE.md).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, InplaceOp2, Layout, Tensor, Var};

use crate::error::{Error, Result};
use crate::kernels::{adamw_step, AdamWStep};

/// AdamW hyper-parameters.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.01,
        }
    }
}

struct Slot {
    name: String,
    var: Var,
    decay: bool,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The optimizer: one slot per trainable variable.
pub struct AdamW {
    cfg: AdamWConfig,
    slots: Vec<Slot>,
    /// Steps taken so far (for bias correction).
    pub step: u64,
}

/// Whether a weight of this name gets weight decay.
fn decays(name: &str) -> bool {
    !(name.ends_with(".bias") || name.contains("LayerNorm") || name.contains("layer_norm"))
}

impl AdamW {
    /// An optimizer over named f32 variables.
    pub fn new(vars: Vec<(String, Var)>, cfg: AdamWConfig) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                if var.dtype() != DType::F32 {
                    return Err(Error::InvalidArgument(format!(
                        "{name}: AdamW trains f32 weights, got {:?}",
                        var.dtype()
                    )));
                }
                let n = var.elem_count();
                Ok(Slot {
                    decay: decays(&name),
                    name,
                    var,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW { cfg, slots, step: 0 })
    }

    /// One update at learning rate `lr` from the gradients of a backward pass. Fails if a
    /// variable got no gradient: that is a bug in the model, never something to skip.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.cfg.beta1.powi(t);
        let bc2 = 1.0 - self.cfg.beta2.powi(t);
        for slot in &mut self.slots {
            let g = grads.get(slot.var.as_tensor()).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "no gradient reached {}: the forward pass does not use it",
                    slot.name
                ))
            })?;
            let g = g.contiguous()?;
            let op = AdamWUpdate {
                moments: Mutex::new((&mut slot.m, &mut slot.v)),
                lr: lr as f32,
                beta1: self.cfg.beta1 as f32,
                beta2: self.cfg.beta2 as f32,
                eps: self.cfg.eps as f32,
                decay: if slot.decay {
                    (lr * self.cfg.weight_decay) as f32
                } else {
                    0.0
                },
                bc1: bc1 as f32,
                bc2_sqrt: bc2.sqrt() as f32,
            };
            slot.var.as_tensor().inplace_op2(&g, &op)?;
        }
        Ok(())
    }

    /// Writes the moments and step count to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = HashMap::new();
        for s in &self.slots {
            t.insert(
                format!("m.{}", s.name),
                Tensor::from_slice(&s.m, s.m.len(), &Device::Cpu)?,
            );
            t.insert(
                format!("v.{}", s.name),
                Tensor::from_slice(&s.v, s.v.len(), &Device::Cpu)?,
            );
        }
        t.insert("step".into(), Tensor::new(&[self.step as f64], &Device::Cpu)?);
        crate::encoder::weights::save_safetensors(&t, path)
    }

    /// Restores what [`AdamW::save`] wrote.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let bad = |reason: String| Error::Weights {
            path: path.into(),
            reason,
        };
        let t = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| bad(e.to_string()))?;
        let get = |k: &str, n: usize| -> Result<Vec<f32>> {
            let v = t
                .get(k)
                .ok_or_else(|| bad(format!("{k} is missing")))?
                .to_vec1::<f32>()?;
            if v.len() != n {
                return Err(bad(format!("{k} has {} values, expected {n}", v.len())));
            }
            Ok(v)
        };
        for s in &mut self.slots {
            s.m = get(&format!("m.{}", s.name), s.m.len())?;
            s.v = get(&format!("v.{}", s.name), s.v.len())?;
        }
        let step = t
            .get("step")
            .ok_or_else(|| bad("step is missing".into()))?
            .to_vec1::<f64>()?;
        self.step = step.first().copied().unwrap_or(0.0) as u64;
        Ok(())
    }
}

/// The fused update of one weight tensor.
struct AdamWUpdate<'a> {
    moments: Mutex<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    decay: f32,
    bc1: f32,
    bc2_sqrt: f32,
}

impl InplaceOp2 for AdamWUpdate<'_> {
    fn name(&self) -> &'static str {
        "adamw-update"
    }

    fn cpu_fwd(&self, s1: &mut CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(w), CpuStorage::F32(g)) = (s1, s2) else {
            candle_core::bail!("adamw-update: f32 only");
        };
        let (Some((w0, w1)), Some((g0, g1))) = (l1.contiguous_offsets(), l2.contiguous_offsets()) else {
            candle_core::bail!("adamw-update: contiguous tensors only");
        };
        let w = &mut w[w0..w1];
        let g = &g[g0..g1];
        let mut guard = self.moments.lock().unwrap_or_else(|e| e.into_inner());
        let (m, v) = &mut *guard;
        if m.len() != w.len() || g.len() != w.len() {
            candle_core::bail!("adamw-update: size mismatch");
        }
        let step = AdamWStep {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            step: self.lr / self.bc1,
            bc2_sqrt: self.bc2_sqrt,
            decay: self.decay,
        };
        adamw_step(w, g, m, v, step);
        Ok(())
    }
}

/// Learning rate at `step` (0-based) of `total`: linear warmup over `warmup` steps, then linear
/// decay to zero.
pub fn scheduled_lr(base: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let rest = total.saturating_sub(warmup).max(1);
    base * (total.saturating_sub(step) as f64 / rest as f64).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps against PyTorch's `torch.optim.AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-6,
    /// weight_decay=0.01)` on w = [1, -2, 3], loss = sum(w^2 * [1, 2, 3]) (two steps):
    ///
    /// ```python
    /// w = torch.tensor([1., -2., 3.], requires_grad=True)
    /// opt = torch.optim.AdamW([w], lr=0.1, eps=1e-6, weight_decay=0.01)
    /// for _ in range(2):
    ///     opt.zero_grad(); (w**2 * torch.tensor([1., 2., 3.])).sum().backward(); opt.step()
    /// print(w)  # [0.7985191, -1.7962726, 2.7942092] (PyTorch 2.15)
    /// ```
    #[test]
    fn matches_pytorch_adamw() {
        let w = Var::from_tensor(&Tensor::new(&[1f32, -2., 3.], &Device::Cpu).unwrap()).unwrap();
        let c = Tensor::new(&[1f32, 2., 3.], &Device::Cpu).unwrap();
        let cfg = AdamWConfig {
            eps: 1e-6,
            ..Default::default()
        };
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], cfg).unwrap();
        for _ in 0..2 {
            let loss = (w.as_tensor().sqr().unwrap() * &c).unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap(), 0.1).unwrap();
        }
        let got = w.as_tensor().to_vec1::<f32>().unwrap();
        let want = [0.7985191f32, -1.7962726, 2.7942092];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((scheduled_lr(1.0, 0, 10, 100) - 0.1).abs() < 1e-12);
        assert!((scheduled_lr(1.0, 9, 10, 100) - 1.0).abs() < 1e-12);
        assert!((scheduled_lr(1.0, 55, 10, 100) - 0.5).abs() < 1e-12);
        assert_eq!(scheduled_lr(1.0, 100, 10, 100), 0.0);
    }

    #[test]
    fn a_variable_without_gradient_is_an_error() {
        let a = Var::new(&[1f32], &Device::Cpu).unwrap();
        let b = Var::new(&[1f32], &Device::Cpu).unwrap();
        let mut opt = AdamW::new(vec![("a".into(), a.clone()), ("b".into(), b)], AdamWConfig::default()).unwrap();
        let loss = a.as_tensor().sqr().unwrap().sum_all().unwrap();
        let e = opt.step(&loss.backward().unwrap(), 0.1).unwrap_err().to_string();
        assert!(e.contains("no gradient reached b"), "{e}");
    }
}
