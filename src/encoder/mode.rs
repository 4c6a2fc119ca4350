//! How a forward pass runs: for inference (fast fused kernels, no gradient graph), exactly
//! (differentiable kernels, no dropout: evaluation with gradients, gradient checks), or for
//! training (differentiable kernels and dropout drawn from a seeded RNG).

use rand_chacha::ChaCha8Rng;

/// The way a forward pass runs. See the module docs.
#[derive(Debug)]
pub enum ForwardMode<'a> {
    /// Fused kernels without backward passes; weights are detached so no graph is kept.
    Inference,
    /// Differentiable kernels, dropout off.
    Exact,
    /// Differentiable kernels, dropout on, masks drawn from this RNG so runs repeat.
    Train(&'a mut ChaCha8Rng),
}

impl ForwardMode<'_> {
    pub fn is_inference(&self) -> bool {
        matches!(self, ForwardMode::Inference)
    }
}
