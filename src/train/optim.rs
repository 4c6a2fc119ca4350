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
use candle_core::{CpuStorage, DType, Device, InplaceOp1, InplaceOp2, Layout, Tensor, Var};

use crate::encoder::WordRows;
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
    /// For a table updated by rows, its compact moments (then `m` and `v` are empty).
    rows: Option<RowMoments>,
    /// For a weight on a GPU, its moments there (then `m` and `v` are empty).
    on_device: Option<(Tensor, Tensor)>,
}

/// The moments of a table updated by rows. Only rows that have ever had a gradient have
/// moments; every other row's are exactly zero, so dense AdamW would only decay its weights,
/// which is all this does to them (bit for bit the same: `w (1 - d) - step * 0 / denom`).
#[derive(Debug, Default)]
struct RowMoments {
    width: usize,
    /// Table row -> index into `rows`.
    index: HashMap<u32, usize>,
    rows: Vec<u32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl RowMoments {
    fn slot(&mut self, row: u32) -> usize {
        let width = self.width;
        *self.index.entry(row).or_insert_with(|| {
            self.rows.push(row);
            self.m.resize(self.m.len() + width, 0.0);
            self.v.resize(self.v.len() + width, 0.0);
            self.rows.len() - 1
        })
    }
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
                let on_device = if var.device().is_cpu() {
                    None
                } else {
                    Some((var.zeros_like()?, var.zeros_like()?))
                };
                let host = if on_device.is_some() { 0 } else { n };
                Ok(Slot {
                    decay: decays(&name),
                    name,
                    var,
                    m: vec![0.0; host],
                    v: vec![0.0; host],
                    rows: None,
                    on_device,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW { cfg, slots, step: 0 })
    }

    /// Keeps every moment as a tensor and updates with tensor ops, the path weights on a GPU
    /// take. Exposed so that tests can check that path against the fused one on the CPU.
    #[doc(hidden)]
    pub fn with_tensor_moments(mut self) -> Result<Self> {
        for s in &mut self.slots {
            if s.rows.is_none() && s.on_device.is_none() {
                let shape = s.var.shape().clone();
                let m = Tensor::from_vec(std::mem::take(&mut s.m), shape.clone(), s.var.device())?;
                let v = Tensor::from_vec(std::mem::take(&mut s.v), shape, s.var.device())?;
                s.on_device = Some((m, v));
            }
        }
        Ok(self)
    }

    /// Updates the 2D variable `name` by rows: its gradient comes from the [`WordRows`] given
    /// to [`AdamW::step_rows`] (see `Encoder::capture_word_rows`), and its moments are kept only
    /// for rows that have had a gradient. Must be called before the first step.
    pub fn with_row_updates(mut self, name: &str) -> Result<Self> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::Internal(format!("no trainable variable {name}")))?;
        if !slot.var.device().is_cpu() {
            return Err(Error::InvalidArgument(format!(
                "{name}: row updates run on the CPU; on a GPU the table is updated densely"
            )));
        }
        let (_, width) = slot.var.as_tensor().dims2()?;
        slot.m = Vec::new();
        slot.v = Vec::new();
        slot.rows = Some(RowMoments {
            width,
            ..Default::default()
        });
        Ok(self)
    }

    /// One update at learning rate `lr` from the gradients of a backward pass. Fails if a
    /// variable got no gradient: that is a bug in the model, never something to skip.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.step_rows(grads, lr, &[])
    }

    /// Like [`AdamW::step`], with the word rows the step's forward passes recorded, for the
    /// table set up by [`AdamW::with_row_updates`].
    pub fn step_rows(&mut self, grads: &GradStore, lr: f64, word_rows: &[WordRows]) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.cfg.beta1.powi(t);
        let bc2 = 1.0 - self.cfg.beta2.powi(t);
        for slot in &mut self.slots {
            let params = AdamWStep {
                beta1: self.cfg.beta1 as f32,
                beta2: self.cfg.beta2 as f32,
                eps: self.cfg.eps as f32,
                step: (lr / bc1) as f32,
                bc2_sqrt: bc2.sqrt() as f32,
                decay: if slot.decay {
                    (lr * self.cfg.weight_decay) as f32
                } else {
                    0.0
                },
            };
            if let Some(rm) = slot.rows.as_mut() {
                if word_rows.is_empty() {
                    return Err(Error::InvalidArgument(format!(
                        "{} is updated by rows, but the step got none: turn on \
                         Encoder::capture_word_rows and pass Encoder::take_word_rows",
                        slot.name
                    )));
                }
                let g = row_gradients(rm, grads, word_rows)?;
                let op = RowUpdate {
                    moments: Mutex::new(rm),
                    grads: &g,
                    params,
                };
                slot.var.as_tensor().inplace_op1(&op)?;
                continue;
            }
            let g = grads.get(slot.var.as_tensor()).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "no gradient reached {}: the forward pass does not use it",
                    slot.name
                ))
            })?;
            let g = g.contiguous()?;
            if let Some((m, v)) = slot.on_device.as_mut() {
                // The same update in tensor ops, which run where the weight is.
                let p = params;
                let m2 = ((&*m * p.beta1 as f64)? + (&g * (1.0 - p.beta1) as f64)?)?;
                let v2 = ((&*v * p.beta2 as f64)? + (g.sqr()? * (1.0 - p.beta2) as f64)?)?;
                let denom = ((v2.sqrt()? / p.bc2_sqrt as f64)? + p.eps as f64)?;
                let w = slot.var.as_tensor();
                let w2 = ((w * (1.0 - p.decay) as f64)? - ((&m2 / denom)? * p.step as f64)?)?;
                slot.var.set(&w2)?;
                *m = m2;
                *v = v2;
                continue;
            }
            let op = AdamWUpdate {
                moments: Mutex::new((&mut slot.m, &mut slot.v)),
                params,
            };
            slot.var.as_tensor().inplace_op2(&g, &op)?;
        }
        Ok(())
    }

    /// Writes the moments and step count to a safetensors file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = HashMap::new();
        for s in &self.slots {
            if let Some(rm) = &s.rows {
                let k = rm.rows.len();
                t.insert(
                    format!("rows.{}", s.name),
                    Tensor::from_slice(&rm.rows, k, &Device::Cpu)?,
                );
                t.insert(
                    format!("m.{}", s.name),
                    Tensor::from_slice(&rm.m, rm.m.len(), &Device::Cpu)?,
                );
                t.insert(
                    format!("v.{}", s.name),
                    Tensor::from_slice(&rm.v, rm.v.len(), &Device::Cpu)?,
                );
                continue;
            }
            if let Some((m, v)) = &s.on_device {
                t.insert(format!("m.{}", s.name), m.flatten_all()?.to_device(&Device::Cpu)?);
                t.insert(format!("v.{}", s.name), v.flatten_all()?.to_device(&Device::Cpu)?);
                continue;
            }
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
            if let Some(rm) = s.rows.as_mut() {
                let key = format!("rows.{}", s.name);
                let rows = t
                    .get(&key)
                    .ok_or_else(|| bad(format!("{key} is missing")))?
                    .to_vec1::<u32>()?;
                rm.m = get(&format!("m.{}", s.name), rows.len() * rm.width)?;
                rm.v = get(&format!("v.{}", s.name), rows.len() * rm.width)?;
                rm.index = rows.iter().enumerate().map(|(i, &r)| (r, i)).collect();
                rm.rows = rows;
                continue;
            }
            if s.on_device.is_some() {
                let (n, shape, dev) = (s.var.elem_count(), s.var.shape().clone(), s.var.device().clone());
                let m = Tensor::from_vec(get(&format!("m.{}", s.name), n)?, shape.clone(), &dev)?;
                let v = Tensor::from_vec(get(&format!("v.{}", s.name), n)?, shape, &dev)?;
                s.on_device = Some((m, v));
                continue;
            }
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
    params: AdamWStep,
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
        adamw_step(w, g, m, v, self.params);
        Ok(())
    }
}

/// Sums the step's row gradients per table row, in the order of `RowMoments::rows` (rows seen
/// for the first time get zero moments). Rows with moments but no gradient this step get zeros.
fn row_gradients(rm: &mut RowMoments, grads: &GradStore, word_rows: &[WordRows]) -> Result<Vec<f32>> {
    let width = rm.width;
    let mut g = vec![0f32; rm.rows.len() * width];
    for wr in word_rows {
        let grad = grads
            .get(wr.rows.as_tensor())
            .ok_or_else(|| Error::Internal("no gradient reached the word rows of a forward pass".into()))?;
        let grad = grad.flatten_all()?.to_vec1::<f32>()?;
        if grad.len() != wr.ids.len() * width {
            return Err(Error::InvalidArgument(
                "word rows and their gradient differ in size".into(),
            ));
        }
        for (&id, row) in wr.ids.iter().zip(grad.chunks_exact(width)) {
            let i = rm.slot(id);
            if g.len() < (i + 1) * width {
                g.resize((i + 1) * width, 0.0);
            }
            g[i * width..(i + 1) * width]
                .iter_mut()
                .zip(row)
                .for_each(|(a, &b)| *a += b);
        }
    }
    Ok(g)
}

/// AdamW on a table by rows: the full update on rows with moments, weight decay alone on the
/// rest (their moments are zero).
struct RowUpdate<'a> {
    moments: Mutex<&'a mut RowMoments>,
    grads: &'a [f32],
    params: AdamWStep,
}

impl InplaceOp1 for RowUpdate<'_> {
    fn name(&self) -> &'static str {
        "adamw-row-update"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        let CpuStorage::F32(w) = s else {
            candle_core::bail!("adamw-row-update: f32 only");
        };
        let Some((w0, w1)) = l.contiguous_offsets() else {
            candle_core::bail!("adamw-row-update: contiguous tensors only");
        };
        let w = &mut w[w0..w1];
        let mut guard = self.moments.lock().unwrap_or_else(|e| e.into_inner());
        let rm = &mut **guard;
        let width = rm.width;
        if width == 0 || w.len() % width != 0 || self.grads.len() != rm.m.len() {
            candle_core::bail!("adamw-row-update: size mismatch");
        }
        let mut has_moments = vec![false; w.len() / width];
        for &r in &rm.rows {
            match has_moments.get_mut(r as usize) {
                Some(h) => *h = true,
                None => candle_core::bail!("adamw-row-update: row {r} is outside the table"),
            }
        }
        let keep = 1.0 - self.params.decay;
        if keep != 1.0 {
            use rayon::prelude::*;
            w.par_chunks_mut(width * 256).enumerate().for_each(|(c, chunk)| {
                for (i, row) in chunk.chunks_mut(width).enumerate() {
                    if !has_moments[c * 256 + i] {
                        row.iter_mut().for_each(|x| *x *= keep);
                    }
                }
            });
        }
        for (i, &r) in rm.rows.iter().enumerate() {
            let span = i * width..(i + 1) * width;
            let r = r as usize;
            adamw_step(
                &mut w[r * width..(r + 1) * width],
                &self.grads[span.clone()],
                &mut rm.m[span.clone()],
                &mut rm.v[span],
                self.params,
            );
        }
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
