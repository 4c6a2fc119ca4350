//! AdamW's update of one tensor, in place, vectorised and spread over the thread pool. It is
//! memory-bound (seven streams of the tensor's size), so it runs in one pass.

use rayon::prelude::*;

use super::rows::simd;

/// The scalars of one AdamW step; see `train::optim` for how they are derived.
#[derive(Debug, Clone, Copy)]
pub struct AdamWStep {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// `lr / (1 - beta1^t)`.
    pub step: f32,
    /// `sqrt(1 - beta2^t)`.
    pub bc2_sqrt: f32,
    /// `lr * weight_decay`, applied to the weight before the gradient step (decoupled).
    pub decay: f32,
}

const CHUNK: usize = 32 * 1024;

/// Applies one step to weights `w` with gradient `g` and moments `m`, `v` (all the same length).
pub fn adamw_step(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], p: AdamWStep) {
    let run = |w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
        simd(
            #[inline(always)]
            || {
                for (((wi, &gi), mi), vi) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *mi = p.beta1 * *mi + (1.0 - p.beta1) * gi;
                    *vi = p.beta2 * *vi + (1.0 - p.beta2) * gi * gi;
                    let denom = vi.sqrt() / p.bc2_sqrt + p.eps;
                    *wi = *wi * (1.0 - p.decay) - p.step * *mi / denom;
                }
            },
        )
    };
    if w.len() <= CHUNK {
        run(w, g, m, v);
        return;
    }
    w.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(m.par_chunks_mut(CHUNK))
        .zip(v.par_chunks_mut(CHUNK))
        .for_each(|(((w, g), m), v)| run(w, g, m, v));
}
