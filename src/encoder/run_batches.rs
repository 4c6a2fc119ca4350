//! Inference over many batches: on the CPU, as many batches at once as the rayon pool has
//! threads, each one's kernels splitting further only where a thread is idle.
//!
//! Why: one batch at a time with every operation split across the threads left the threads
//! waiting on each other at every layer (wake-ups, barriers, the slowest share); on 2 threads
//! two batches at once embedded 1.45-1.63x the sentences per second of one batch split in two,
//! in f32 and int8 (BENCHMARKS.md, "Batches at once").

use candle_core::DType;
use rayon::prelude::*;

use super::{Encoder, ForwardMode, TokenBatch};
use crate::error::Result;

impl Encoder {
    /// Embeds the `n` rows that `batches` (each a list of row indices) cover, `batch_of` making
    /// each batch's tokens; returns the rows in index order and calls `progress` with the number
    /// done after each group of batches. A batch's rows do not depend on which batches run beside
    /// it.
    pub(crate) fn embed_batches(
        &self,
        n: usize,
        batches: &[Vec<usize>],
        batch_of: &(dyn Fn(&[usize]) -> Result<TokenBatch> + Sync),
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        let at_once = if self.device.is_cpu() {
            rayon::current_num_threads().max(1)
        } else {
            // One device runs one batch at a time anyway; threads would only contend for it.
            1
        };
        let one = |chunk: &Vec<usize>| -> Result<Vec<Vec<f32>>> {
            let emb = self.forward(&batch_of(chunk)?, &mut ForwardMode::Inference)?;
            Ok(emb.to_dtype(DType::F32)?.to_vec2::<f32>()?)
        };
        let mut out = vec![Vec::new(); n];
        let mut done = 0;
        for group in batches.chunks(at_once) {
            // A group of similar batches (the callers sort texts by length), so no thread
            // waits long for the group's last one.
            let rows: Vec<Result<Vec<Vec<f32>>>> = if group.len() == 1 {
                vec![one(&group[0])]
            } else {
                group.par_iter().map(one).collect()
            };
            for (chunk, rows) in group.iter().zip(rows) {
                for (&i, row) in chunk.iter().zip(rows?) {
                    out[i] = row;
                }
                done += chunk.len();
            }
            progress(done);
        }
        Ok(out)
    }
}
