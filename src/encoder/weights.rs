//! Checkpoint tensors: read from `model.safetensors` (or `pytorch_model.bin`), turned into
//! trainable f32 variables in a [`VarMap`] as the model takes them, and written back under the
//! names they came with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use crate::error::{Error, Result};

/// The weight files attune reads, in order of preference.
pub const WEIGHT_FILES: &[&str] = &["model.safetensors", "pytorch_model.bin"];

/// Tensors read from a checkpoint, handed out by name to the model being built.
pub struct Weights {
    path: PathBuf,
    /// The prefix the checkpoint puts before every name (`""` or `"bert."`).
    prefix: String,
    tensors: HashMap<String, Tensor>,
    varmap: VarMap,
    dtype: DType,
}

impl Weights {
    /// Reads the weight file of `dir`.
    pub fn from_dir(dir: &Path, device: &Device, dtype: DType) -> Result<Self> {
        let path = WEIGHT_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .ok_or_else(|| Error::folder(dir, format!("no weights: expected one of {}", WEIGHT_FILES.join(", "))))?;
        let tensors = read_tensors(&path, device)?;
        Ok(Self::from_tensors(path, tensors, dtype))
    }

    pub fn from_tensors(path: PathBuf, tensors: HashMap<String, Tensor>, dtype: DType) -> Self {
        let prefix = ["bert.", "model.", "roberta.", "mpnet."]
            .into_iter()
            .find(|p| tensors.keys().any(|k| k.starts_with(&format!("{p}embeddings."))))
            .unwrap_or("")
            .to_string();
        Weights {
            path,
            prefix,
            tensors,
            varmap: VarMap::new(),
            dtype,
        }
    }

    /// Takes the tensor `name` (without the checkpoint prefix) of the given shape and makes it a
    /// trainable variable.
    pub fn var(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        let alias = name
            .strip_suffix(".weight")
            .map(|n| format!("{}{n}.gamma", self.prefix))
            .or_else(|| name.strip_suffix(".bias").map(|n| format!("{}{n}.beta", self.prefix)));
        let t = match self.tensors.remove(&full) {
            Some(t) => t,
            None => alias
                .and_then(|a| self.tensors.remove(&a))
                .ok_or_else(|| Error::Weights {
                    path: self.path.clone(),
                    reason: format!(
                        "tensor {full:?} is missing; is this checkpoint of the architecture config.json names?"
                    ),
                })?,
        };
        if t.dims() != shape {
            return Err(Error::Weights {
                path: self.path.clone(),
                reason: format!(
                    "tensor {full:?} has shape {:?}, config.json implies {shape:?}",
                    t.dims()
                ),
            });
        }
        let var = Var::from_tensor(&t.to_dtype(self.dtype)?)?;
        let tensor = var.as_tensor().clone();
        self.varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(full, var);
        Ok(tensor)
    }

    /// Ends loading: the trainable variables, and the tensors no layer took (a pooler, buffers),
    /// which are kept as they are so that saving writes them back.
    pub fn finish(self) -> (VarMap, HashMap<String, Tensor>) {
        (self.varmap, self.tensors)
    }
}

fn read_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let bad = |reason: String| Error::Weights {
        path: path.into(),
        reason,
    };
    if is_safetensors {
        // Read the whole file: a truncated or corrupt file must be an error, not a fault in mmap.
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        candle_core::safetensors::load_buffer(&bytes, device)
            .map_err(|e| bad(format!("{e} (the file may be truncated or corrupt; download it again)")))
    } else {
        let list = candle_core::pickle::read_all(path)
            .map_err(|e| bad(format!("{e} (the file may be truncated or corrupt)")))?;
        Ok(list.into_iter().collect())
    }
}

/// Writes `tensors` to a safetensors file (the caller makes the write atomic).
pub fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let cpu: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<Result<_>>()?;
    candle_core::safetensors::save(&cpu, path).map_err(|e| Error::Weights {
        path: path.into(),
        reason: e.to_string(),
    })
}
