//! Lower-precision `y = x W^T + b` for inference: weights held in int8 (per-output-channel
//! scales, activations quantised per token at run time) or bf16 (activations rounded to bf16,
//! sums kept in f32). Attention, layer norm and pooling stay in f32. Training in bf16
//! ([`Bf16Linear`]) rounds the operands of its products to bf16, on f32 master weights.
//!
//! Each precision has a plain twin (portable Rust, the definition) and kernels for the
//! instruction sets the CPU has, chosen at run time under [`crate::kernels::limit_simd`]:
//! int8 uses AVX2 (`vpmaddwd` on widened weights) or AVX-512 VNNI (`vpdpbusd`); bf16 uses AVX2+FMA
//! (bf16 widened to f32 in registers) or AVX-512 BF16 (`vdpbf16ps`). The int8 kernels sum
//! integers, so every path gives the plain twin's result bit for bit; the AVX2 bf16 kernel does
//! too (a bf16 product is exact in f32 in its normal range), `vdpbf16ps` within its own rounding.

mod bf16;
mod bf16_train;
#[cfg(target_arch = "x86_64")]
mod bf16_x86;
mod f32_frozen;
mod grid;
mod int8;
#[cfg(target_arch = "x86_64")]
mod int8_x86;
mod op;

pub use bf16::Bf16Weight;
pub use bf16_train::{Bf16Linear, Bf16Strategy};
pub use f32_frozen::F32Weight;
pub use int8::Int8Weight;
pub use op::LowMatmul;

use super::rows::{simd_level, Simd};

/// Outputs per packed block: one AVX-512 register of f32 or i32 sums.
pub(crate) const BLOCK: usize = 16;

/// The code a lower-precision matrix multiply runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// Portable Rust: the definition every other path is tested against.
    Plain,
    /// AVX2 (+FMA): int8 through 16-bit multiply-adds, bf16 widened to f32.
    Avx2,
    /// AVX-512 VNNI for int8, AVX-512 BF16 for bf16.
    Avx512,
}

/// The paths this CPU can run for int8, plain first, under the instruction-set cap.
pub fn int8_paths() -> Vec<Path> {
    paths("avx512vnni")
}

/// The paths this CPU can run for bf16, plain first, under the instruction-set cap.
pub fn bf16_paths() -> Vec<Path> {
    paths("avx512bf16")
}

fn paths(wide_feature: &str) -> Vec<Path> {
    let mut out = vec![Path::Plain];
    let level = simd_level();
    if level >= Simd::Avx2 {
        out.push(Path::Avx2);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let wide = match wide_feature {
            "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
            _ => std::arch::is_x86_feature_detected!("avx512bf16"),
        };
        if level >= Simd::Avx512 && wide {
            out.push(Path::Avx512);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide_feature;
    out
}

/// The widest of `paths` (plain when empty).
pub(crate) fn widest(paths: &[Path]) -> Path {
    paths.last().copied().unwrap_or(Path::Plain)
}

/// `path` when it is one of `paths`, else plain.
pub(crate) fn usable(path: Path, paths: &[Path]) -> Path {
    if paths.contains(&path) {
        path
    } else {
        Path::Plain
    }
}

/// A linear layer's weight (and bias) held for inference: in a lower precision, or in f32 laid
/// out for the GEMM when the weights will not change.
#[derive(Debug)]
pub enum LowWeight {
    Int8(Int8Weight),
    Bf16(Bf16Weight),
    F32(F32Weight),
}

impl LowWeight {
    /// Output features.
    pub fn out_features(&self) -> usize {
        match self {
            LowWeight::Int8(w) => w.out_features(),
            LowWeight::Bf16(w) => w.out_features(),
            LowWeight::F32(w) => w.out_features(),
        }
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        match self {
            LowWeight::Int8(w) => w.in_features(),
            LowWeight::Bf16(w) => w.in_features(),
            LowWeight::F32(w) => w.in_features(),
        }
    }

    /// `x W^T + b` for `x` of `rows` rows of the input width, on the widest path this CPU has.
    pub fn matmul(&self, x: &[f32], rows: usize) -> Vec<f32> {
        match self {
            LowWeight::Int8(w) => w.matmul(x, rows),
            LowWeight::Bf16(w) => w.matmul(x, rows),
            LowWeight::F32(w) => w.matmul(x, rows),
        }
    }

    /// `x W^T + b + residual` (rows x out), the residual added to the finished product in place:
    /// the unfused pass's order of sums, so a frozen encoder embeds bit for bit as a trained one
    /// (a model's saved calibration is reproduced from its loaded encoder).
    ///
    /// # Panics
    /// When `residual` is not `rows` rows of the output width.
    pub fn matmul_plus(&self, x: &[f32], rows: usize, residual: &[f32]) -> Vec<f32> {
        let mut y = self.matmul(x, rows);
        assert_eq!(y.len(), residual.len(), "matmul: a residual of {rows} rows");
        y.iter_mut().zip(residual).for_each(|(v, r)| *v += r);
        y
    }

    /// Bytes the packed weights take.
    pub fn bytes(&self) -> usize {
        match self {
            LowWeight::Int8(w) => w.bytes(),
            LowWeight::Bf16(w) => w.bytes(),
            LowWeight::F32(w) => w.bytes(),
        }
    }
}
