//! The number format an encoder's linear layers compute in: for inference (f32, bf16, int8) and
//! for training (f32, bf16).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// f32 (the default), bf16 (weights and activations rounded to bf16, f32 sums) or int8 (int8
/// weights per output channel, activations quantised per token; inference only). Lower precision
/// applies to the encoder's linear layers; attention, layer norm and pooling stay in f32. See
/// `kernels::quant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
    Int8,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::Bf16, Precision::Int8];

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "int8" | "i8" => Ok(Precision::Int8),
            other => Err(Error::InvalidArgument(format!(
                "unknown dtype '{other}': use f32, bf16 or int8"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_choices() {
        for p in Precision::ALL {
            assert_eq!(p.as_str().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("BFloat16".parse::<Precision>().unwrap(), Precision::Bf16);
        let e = "fp8".parse::<Precision>().unwrap_err().to_string();
        assert!(e.contains("fp8") && e.contains("f32, bf16 or int8"), "{e}");
    }
}
