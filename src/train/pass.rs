//! One training pass (forward with dropout, loss, backward) with the batch's rows in two halves,
//! each half's forward and backward on its own thread.
//!
//! Why: one batch with every operation split across the threads left them waiting on each other
//! at every layer, as in inference (BENCHMARKS.md, "Batches at once"). The halves are
//! independent until the loss, which couples the rows (in-batch pairs, a head over all of them):
//! the loss is computed on both halves' embeddings as leaves, and each half then backpropagates
//! its part of that gradient, `d/dθ sum(e_h * dL/de_h)`, which is the half's share of `dL/dθ`.
//! The gradients are the unsplit pass's up to the order of the f32 sums (tested).
//!
//! Each half draws its dropout masks from its own RNG, seeded from the caller's, and the split
//! does not depend on the thread count, so a run repeats on any number of threads.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::encoder::{Encoder, ForwardMode, TokenBatch};
use crate::error::Result;

/// The loss of a pass and the gradients of every variable it reached.
pub struct Pass {
    pub loss: Tensor,
    pub grads: GradStore,
}

/// Forward `batch` in training mode, `loss` of its embeddings (rows in batch order), backward.
/// On the CPU with at least two rows, in two halves on two threads (module docs); elsewhere
/// (a GPU runs one pass at a time anyway) as one pass with `rng`'s masks.
pub fn forward_backward(
    encoder: &Encoder,
    batch: &TokenBatch,
    rng: &mut ChaCha8Rng,
    loss: &dyn Fn(&Tensor) -> Result<Tensor>,
) -> Result<Pass> {
    let rows = batch.lengths.len();
    if rows < 2 || !encoder.device().is_cpu() {
        let emb = encoder.forward(batch, &mut ForwardMode::Train(rng))?;
        let loss = loss(&emb)?;
        let grads = loss.backward()?;
        return Ok(Pass { loss, grads });
    }
    let mid = rows.div_ceil(2);
    let halves = [rows_of(batch, 0, mid)?, rows_of(batch, mid, rows - mid)?];
    let mut rngs = [
        ChaCha8Rng::seed_from_u64(rng.next_u64()),
        ChaCha8Rng::seed_from_u64(rng.next_u64()),
    ];
    let [r0, r1] = &mut rngs;
    let (e0, e1) = rayon::join(
        || encoder.forward(&halves[0], &mut ForwardMode::Train(r0)),
        || encoder.forward(&halves[1], &mut ForwardMode::Train(r1)),
    );
    let (e0, e1) = (e0?, e1?);
    let leaves = [Var::from_tensor(&e0.detach())?, Var::from_tensor(&e1.detach())?];
    let loss = loss(&Tensor::cat(&[leaves[0].as_tensor(), leaves[1].as_tensor()], 0)?)?;
    let mut grads = loss.backward()?;
    let d0 = grads.remove(leaves[0].as_tensor());
    let d1 = grads.remove(leaves[1].as_tensor());
    let (g0, g1) = rayon::join(|| half_backward(&e0, d0), || half_backward(&e1, d1));
    // The loss's own gradients (the head's) hold none of the encoder's: half 0's go in as they
    // are, half 1's are added to them, in this order on every run.
    for g in [g0?, g1?].into_iter().flatten() {
        grads.extend(g)?;
    }
    Ok(Pass { loss, grads })
}

/// The gradients `e`'s graph gives when the loss's gradient at `e` is `d` (none when the loss
/// did not reach `e`).
fn half_backward(e: &Tensor, d: Option<Tensor>) -> Result<Option<GradStore>> {
    match d {
        None => Ok(None),
        Some(d) => Ok(Some((e * d.detach())?.sum_all()?.backward()?)),
    }
}

/// Rows `start..start + n` of `batch`, cut to their longest text (padding past it is masked
/// anyway, and would only cost time).
fn rows_of(batch: &TokenBatch, start: usize, n: usize) -> Result<TokenBatch> {
    let lengths = batch.lengths[start..start + n].to_vec();
    let width = batch.ids.dim(1)?;
    let cols = lengths.iter().copied().max().unwrap_or(1).clamp(1, width.max(1));
    let cut = |t: &Tensor| t.narrow(0, start, n)?.narrow(1, 0, cols)?.contiguous();
    Ok(TokenBatch {
        ids: cut(&batch.ids)?,
        type_ids: cut(&batch.type_ids)?,
        mask: cut(&batch.mask)?,
        lengths,
    })
}
