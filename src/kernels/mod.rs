//! Fused CPU kernels for the encoder's element-wise work, each with a real backward pass.
//!
//! candle builds GELU, layer norm and masked softmax out of many primitive ops, each of which
//! allocates a full tensor and walks memory once, and its `erf` is the scalar libm routine
//! (about a fifth of an embedding run in a profile). These kernels do each job in one or two
//! passes over a row, with branch-free `exp`/`erf` that the compiler vectorises for the CPU's
//! widest SIMD (chosen at run time, so one binary serves AVX2-only and AVX-512 machines), and
//! spread rows over the rayon pool that the matrix multiply also uses.
//!
//! Every kernel is a candle custom op whose `bwd` is itself a fused kernel, so the same fast
//! path serves inference and training. f32 takes the fast path; f64 (gradient checks) runs the
//! same formulas with libm's `exp`/`erf`. The plain candle-primitive versions live in
//! [`reference`]; tests pin each kernel, forward and backward, to them.

mod adamw;
mod bias;
mod gelu;
mod layer_norm;
mod math;
pub mod quant;
pub mod reference;
mod rows;
mod softmax;

use std::sync::atomic::{AtomicU8, Ordering};

use candle_core::{CpuStorage, DType, Layout, Tensor, WithDType};

pub use adamw::{adamw_step, AdamWStep};
pub use bias::bias_add;
pub use gelu::gelu_erf;
pub use layer_norm::layer_norm;
pub use rows::{limit_simd, simd_level, Simd};
pub use softmax::masked_softmax;

/// Whether the fused kernels are on. `ATTUNE_PLAIN_KERNELS=1` turns them off (the encoder then
/// uses [`reference`]), so a benchmark can measure what they are worth.
pub fn fused() -> bool {
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let off = std::env::var("ATTUNE_PLAIN_KERNELS").is_ok_and(|v| v == "1");
            STATE.store(if off { 2 } else { 1 }, Ordering::Relaxed);
            !off
        }
    }
}

/// The element types the kernels run on.
pub(crate) trait Elem: math::Real + WithDType {}
impl Elem for f32 {}
impl Elem for f64 {}

/// Whether `t` can take a fused kernel: on the CPU, in f32 or f64, with the kernels on.
fn eligible(t: &Tensor) -> bool {
    t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64) && fused()
}

/// The contiguous elements of an op's input.
pub(crate) fn input<'a, T: WithDType>(s: &'a CpuStorage, l: &Layout, op: &str) -> candle_core::Result<&'a [T]> {
    let data = T::cpu_storage_as_slice(s)?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => Err(candle_core::Error::Msg(format!("{op}: the input must be contiguous"))),
    }
}

/// Runs `f` on the storage's element type, for the types the kernels support.
macro_rules! by_dtype {
    ($op:expr, $s:expr, $f:ident ( $($arg:expr),* )) => {
        match $s {
            candle_core::CpuStorage::F32(_) => $f::<f32>($($arg),*),
            candle_core::CpuStorage::F64(_) => $f::<f64>($($arg),*),
            _ => Err(candle_core::Error::Msg(format!(
                "{}: only f32 and f64 are supported",
                $op
            ))),
        }
    };
}
pub(crate) use by_dtype;

/// Sets up the process's thread pools and allocator for attune's workload. Call it first thing
/// in `main`, before any other thread starts (it may set an environment variable).
///
/// candle's element-wise thread pool spins 25,000 times after each op before it parks. When
/// the process has as many threads as cores, the spinning thread takes the core that the matrix
/// multiply's threads need next: embedding at 2 threads went from 360 to about 600 texts/s with
/// the spin cut to one round (`CANDLE_BARRIER_POOL_SPIN_LIMIT`; a value already set wins).
pub fn init_process() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "1");
    }
    crate::alloc::keep_freed_memory();
}
