//! Row-sparse gradients for the word-embedding table. A batch touches a few hundred of its
//! 30,522 rows, yet through candle's autograd the table's gradient is dense: 47 MB zeroed,
//! scattered into and copied each step, then a dense AdamW pass over 11.7M weights. When
//! capture is on, a training forward looks its rows up from the detached table into a small
//! leaf variable per batch instead; the optimizer then updates only the rows that ever had a
//! gradient (see `train::optim`), which is exactly what dense AdamW does to the others.

use std::sync::{Arc, Mutex};

use candle_core::{Tensor, Var};

use super::layers::w;
use super::mode::ForwardMode;
use crate::error::Result;

/// The name of the table whose gradients come as rows.
pub const WORD_TABLE: &str = "embeddings.word_embeddings.weight";

/// One forward pass's lookup: the token ids, in order, and the leaf variable holding their rows
/// (shape (ids, hidden)), whose gradient backpropagation fills.
#[derive(Debug, Clone)]
pub struct WordRows {
    pub ids: Vec<u32>,
    pub rows: Var,
}

/// Where training forwards record their lookups; `None` while capture is off.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Option<Vec<WordRows>>>>);

impl Capture {
    pub fn set(&self, on: bool) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = on.then(Vec::new);
    }

    /// The lookups recorded since the last take, ordered by their ids: forwards that ran at once
    /// on several threads record in whichever order they finish, and the optimizer sums rows
    /// in this order.
    pub fn take(&self) -> Vec<WordRows> {
        let mut rows = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        rows.sort_by(|a, b| a.ids.cmp(&b.ids));
        rows
    }

    /// The word vectors of a batch's ids (batch, seq) as (batch, seq, hidden): through
    /// [`Capture::lookup`] in training, from the table (detached for inference) otherwise.
    pub fn words(&self, table: &Tensor, ids: &Tensor, mode: &ForwardMode) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let h = table.dim(1)?;
        let flat = ids.flatten_all()?;
        let captured = match mode {
            ForwardMode::Train(_) => self.lookup(table, &flat)?,
            _ => None,
        };
        let rows = match captured {
            Some(rows) => rows,
            None => w(table, mode).index_select(&flat, 0)?,
        };
        Ok(rows.reshape((b, t, h))?)
    }

    /// The rows of `table` at `ids` (flat), recorded as a new leaf when capture is on, else
    /// `None` (the caller then looks them up with the table in the graph).
    pub fn lookup(&self, table: &Tensor, ids: &Tensor) -> Result<Option<Tensor>> {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = guard.as_mut() else {
            return Ok(None);
        };
        let rows = Var::from_tensor(&table.detach().index_select(ids, 0)?)?;
        list.push(WordRows {
            ids: ids.to_vec1::<u32>()?,
            rows: rows.clone(),
        });
        Ok(Some(rows.as_tensor().clone()))
    }
}
