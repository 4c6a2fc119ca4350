//! Where the encoder runs: the CPU by default, or an NVIDIA GPU with `ATTUNE_DEVICE=cuda` (or
//! `cuda:N`) in a build with the `cuda` feature (`cargo build --release --features cuda`).
//! One switch for every command, the server and the library, since each loads its encoders
//! through [`crate::Encoder::load`].

use candle_core::Device;

use crate::error::{Error, Result};

/// The device `ATTUNE_DEVICE` names (the CPU when it is unset, empty or `cpu`).
pub fn from_env() -> Result<Device> {
    let raw = std::env::var("ATTUNE_DEVICE").unwrap_or_default();
    parse(raw.trim())
}

fn parse(spec: &str) -> Result<Device> {
    match spec {
        "" | "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                None => 0,
                Some(n) => n.parse().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "ATTUNE_DEVICE={s}: the GPU number must be a whole number, as in cuda:0"
                    ))
                })?,
            };
            cuda(ordinal)
        }
        other => Err(Error::InvalidArgument(format!(
            "ATTUNE_DEVICE={other}: use cpu, cuda or cuda:N"
        ))),
    }
}

#[cfg(feature = "cuda")]
fn cuda(ordinal: usize) -> Result<Device> {
    Device::new_cuda(ordinal)
        .map_err(|e| Error::InvalidArgument(format!("ATTUNE_DEVICE=cuda:{ordinal}: no usable NVIDIA GPU ({e})")))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_ordinal: usize) -> Result<Device> {
    Err(Error::InvalidArgument(
        "ATTUNE_DEVICE=cuda needs attune built with the cuda feature: cargo build --release --features cuda".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_by_default_and_clear_errors_otherwise() {
        assert!(parse("").unwrap().is_cpu());
        assert!(parse("cpu").unwrap().is_cpu());
        let e = parse("tpu").unwrap_err().to_string();
        assert!(e.contains("use cpu, cuda or cuda:N"), "{e}");
        let e = parse("cuda:x").unwrap_err().to_string();
        assert!(e.contains("whole number"), "{e}");
        #[cfg(not(feature = "cuda"))]
        {
            let e = parse("cuda").unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }
}
