//! A padded batch's real tokens packed into rows, for inference passes that skip the padding.
//!
//! Why: every linear layer, GELU and layer norm of a padded batch also runs on its padding
//! rows, whose results nothing reads (attention masks them out as keys, pooling as tokens).
//! Packed, those layers run on the real tokens only; only attention's own products, which need
//! the (batch, heads, seq, head_dim) grid, see the padding, as zeros. The grid is built by the
//! same copy that splits the heads, so skipping the padding adds no pass. A real token's row goes
//! through the same arithmetic either way (a matrix product's row does not depend on the rows
//! beside it), so embeddings do not change.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};

use super::mode::ForwardMode;
use crate::error::Result;
use crate::kernels::{self, input};

/// How a pass lays out the states between its layers: as (batch, seq, hidden), or as the real
/// tokens' rows (tokens, hidden) when an inference pass skips the padding; and the attention
/// grid (batch, heads, seq, head_dim) either way.
pub(crate) struct Grid {
    batch: usize,
    seq: usize,
    packing: Option<Packing>,
}

impl Grid {
    /// The layout of a pass over `x` (batch, seq, hidden) under `mask`, and `x` in it: packed for
    /// inference with the fused kernels on; training and exact passes keep the padded grid
    /// (their dropout masks are drawn over it).
    pub(crate) fn enter(mask: &Tensor, x: Tensor, mode: &ForwardMode) -> Result<(Grid, Tensor)> {
        let (batch, seq, _) = x.dims3()?;
        let packing = match mode.is_inference() && kernels::fused() {
            true => Packing::of(mask, &x)?,
            false => None,
        };
        let x = match &packing {
            Some(p) => p.pack(&x)?,
            None => x,
        };
        Ok((Grid { batch, seq, packing }, x))
    }

    /// States in this layout back as (batch, seq, hidden); padding rows are zeros if skipped.
    pub(crate) fn leave(&self, x: Tensor) -> Result<Tensor> {
        match &self.packing {
            Some(p) => p.unpack(&x),
            None => Ok(x),
        }
    }

    /// A projection's output (its last dimension `heads * head_dim`) as the attention grid.
    pub(crate) fn split_heads(&self, y: &Tensor, heads: usize) -> Result<Tensor> {
        let width = y.dim(y.rank() - 1)?;
        self.split_heads_of(y, 0, width, heads)
    }

    /// Columns `from..from + width` of a product's output as the attention grid (batch, heads,
    /// seq, width / heads): one of several projections computed by one product.
    pub(crate) fn split_heads_of(&self, y: &Tensor, from: usize, width: usize, heads: usize) -> Result<Tensor> {
        if let Some(p) = &self.packing {
            return p.split_heads_of(y, from, width, heads);
        }
        let total = y.dim(y.rank() - 1)?;
        let d = width / heads.max(1);
        let whole = |n: usize, by: usize| n.is_multiple_of(by);
        if heads == 0 || d == 0 || !whole(width, heads) || !whole(from, d) || !whole(total, d) || from + width > total {
            return Err(candle_core::Error::Msg(format!(
                "attention heads: columns {from}..{} of {total} do not split into {heads} heads",
                from + width
            ))
            .into());
        }
        // One copy, as when each projection had its own product.
        Ok(y.reshape((self.batch, self.seq, total / d, d))?
            .narrow(2, from / d, heads)?
            .transpose(1, 2)?
            .contiguous()?)
    }

    /// Attention's output grid (batch, heads, seq, head_dim) back in this layout.
    pub(crate) fn merge_heads(&self, ctx: &Tensor) -> Result<Tensor> {
        match &self.packing {
            Some(p) => p.merge_heads(ctx),
            None => {
                let (_, heads, _, d) = ctx.dims4()?;
                Ok(ctx.transpose(1, 2)?.reshape((self.batch, self.seq, heads * d))?)
            }
        }
    }
}

/// Which cells of a (batch, seq) grid hold real tokens, in row-major order.
#[derive(Debug, Clone)]
pub(crate) struct Packing {
    batch: usize,
    seq: usize,
    /// The grid cell (`b * seq + t`) of each real token, increasing.
    cells: std::sync::Arc<Vec<usize>>,
}

impl Packing {
    /// The packing of `mask` (batch, seq; nonzero where a token is real) for states `x`, or
    /// `None` when there is nothing to skip (no padding) or the states are not f32 on the CPU,
    /// the only case the copies below handle.
    pub(crate) fn of(mask: &Tensor, x: &Tensor) -> Result<Option<Packing>> {
        if !x.device().is_cpu() || x.dtype() != DType::F32 {
            return Ok(None);
        }
        let (batch, seq) = mask.dims2()?;
        let flags = mask.to_dtype(DType::U32)?.flatten_all()?.to_vec1::<u32>()?;
        let cells: Vec<usize> = (0..flags.len()).filter(|&i| flags[i] != 0).collect();
        if cells.len() == flags.len() {
            return Ok(None);
        }
        Ok(Some(Packing {
            batch,
            seq,
            cells: std::sync::Arc::new(cells),
        }))
    }

    /// Real tokens in the batch.
    pub(crate) fn tokens(&self) -> usize {
        self.cells.len()
    }

    /// States (batch, seq, hidden) as (tokens, hidden): the real tokens' rows only.
    pub(crate) fn pack(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, hidden) = x.dims3()?;
        let grid = x.reshape((self.batch, 1, self.seq, hidden))?;
        self.merge_heads(&grid)
    }

    /// Rows (tokens, hidden) back as (batch, seq, hidden), zeros where the batch has padding.
    pub(crate) fn unpack(&self, x: &Tensor) -> Result<Tensor> {
        let hidden = x.dim(1)?;
        Ok(self
            .split_heads_of(x, 0, hidden, 1)?
            .reshape((self.batch, self.seq, hidden))?)
    }

    /// Columns `from..from + width` of rows (tokens, any width) as the attention grid (batch,
    /// heads, seq, width / heads), zeros where the batch has padding: one of several
    /// projections computed by one product.
    pub(crate) fn split_heads_of(&self, x: &Tensor, from: usize, width: usize, heads: usize) -> Result<Tensor> {
        Ok(x.contiguous()?.apply_op1_no_bwd(&SplitHeads {
            packing: self.clone(),
            from,
            width,
            heads,
        })?)
    }

    /// The attention grid (batch, heads, seq, head_dim) as rows (tokens, heads * head_dim): the
    /// real tokens' rows only.
    pub(crate) fn merge_heads(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.contiguous()?.apply_op1_no_bwd(&MergeHeads(self.clone()))?)
    }

    /// Where real token `i` starts in head 0 of a (batch, heads, seq, head_dim) grid: the offset
    /// of (b, 0, t, 0) for its cell (b, t).
    fn start(&self, i: usize, heads: usize, head_dim: usize) -> usize {
        let cell = self.cells[i];
        let (b, t) = (cell / self.seq, cell % self.seq);
        (b * heads * self.seq + t) * head_dim
    }

    fn check_rows(&self, rows: usize, what: &str) -> candle_core::Result<()> {
        if rows != self.tokens() {
            return Err(candle_core::Error::Msg(format!(
                "{what}: {rows} rows for a batch of {} real tokens",
                self.tokens()
            )));
        }
        Ok(())
    }
}

/// Columns `from..from + width` of (tokens, _) -> (batch, heads, seq, width / heads), zeros at
/// padding.
struct SplitHeads {
    packing: Packing,
    from: usize,
    width: usize,
    heads: usize,
}

impl CustomOp1 for SplitHeads {
    fn name(&self) -> &'static str {
        "attune-packed-to-heads"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let what = "packed rows to attention heads";
        let (rows, total) = l.shape().dims2()?;
        self.packing.check_rows(rows, what)?;
        let (from, width) = (self.from, self.width);
        if self.heads == 0 || width % self.heads != 0 || from + width > total {
            return Err(candle_core::Error::Msg(format!(
                "{what}: columns {from}..{} of {total} do not split into {} heads",
                from + width,
                self.heads
            )));
        }
        let x = input::<f32>(s, l, what)?;
        let (p, heads, d) = (&self.packing, self.heads, width / self.heads);
        let mut grid = vec![0f32; p.batch * heads * p.seq * d];
        let head_stride = p.seq * d;
        for (i, row) in x.chunks_exact(total.max(1)).enumerate().take(rows) {
            let start = p.start(i, heads, d);
            for (h, part) in row[from..from + width].chunks_exact(d.max(1)).enumerate() {
                let at = start + h * head_stride;
                grid[at..at + d].copy_from_slice(part);
            }
        }
        Ok((CpuStorage::F32(grid), Shape::from((p.batch, heads, p.seq, d))))
    }
}

/// (batch, heads, seq, head_dim) -> (tokens, heads * head_dim), the real tokens' rows.
struct MergeHeads(Packing);

impl CustomOp1 for MergeHeads {
    fn name(&self) -> &'static str {
        "attune-heads-to-packed"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let what = "attention heads to packed rows";
        let p = &self.0;
        let (batch, heads, seq, d) = l.shape().dims4()?;
        if (batch, seq) != (p.batch, p.seq) {
            return Err(candle_core::Error::Msg(format!(
                "{what}: a grid of {batch} x {seq} for a batch of {} x {}",
                p.batch, p.seq
            )));
        }
        let x = input::<f32>(s, l, what)?;
        let width = heads * d;
        let mut rows = vec![0f32; p.tokens() * width];
        let head_stride = seq * d;
        for (i, row) in rows.chunks_exact_mut(width.max(1)).enumerate() {
            let start = p.start(i, heads, d);
            for (h, part) in row.chunks_exact_mut(d.max(1)).enumerate() {
                let at = start + h * head_stride;
                part.copy_from_slice(&x[at..at + d]);
            }
        }
        Ok((CpuStorage::F32(rows), Shape::from((p.tokens(), width))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn grid(batch: usize, seq: usize, hidden: usize) -> Tensor {
        let v: Vec<f32> = (0..batch * seq * hidden).map(|i| i as f32 * 0.5 - 7.0).collect();
        Tensor::from_vec(v, (batch, seq, hidden), &Device::Cpu).unwrap()
    }

    fn mask(lengths: &[usize], seq: usize) -> Tensor {
        let v: Vec<u32> = lengths
            .iter()
            .flat_map(|&n| (0..seq).map(move |t| u32::from(t < n)))
            .collect();
        Tensor::from_vec(v, (lengths.len(), seq), &Device::Cpu).unwrap()
    }

    #[test]
    fn the_copies_match_the_padded_grid_under_its_mask() {
        let (lengths, seq, heads, d) = ([3usize, 5, 1, 4], 5, 3, 2);
        let x = grid(lengths.len(), seq, heads * d);
        let m = mask(&lengths, seq);
        let p = Packing::of(&m, &x).unwrap().expect("the batch has padding");
        assert_eq!(p.tokens(), 13);
        let rows = p.pack(&x).unwrap();
        // Plain twin: the real rows picked out by index, and the grid with padding zeroed.
        let picked: Vec<Vec<f32>> = x
            .reshape((lengths.len() * seq, heads * d))
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % seq < lengths[i / seq])
            .map(|(_, r)| r)
            .collect();
        assert_eq!(rows.to_vec2::<f32>().unwrap(), picked);
        let zeroed = x
            .broadcast_mul(&m.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap())
            .unwrap();
        assert_eq!(
            p.unpack(&rows).unwrap().to_vec3::<f32>().unwrap(),
            zeroed.to_vec3::<f32>().unwrap()
        );
        let split = zeroed
            .reshape((lengths.len(), seq, heads, d))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap();
        let heads_grid = p.split_heads_of(&rows, 0, heads * d, heads).unwrap();
        assert_eq!(heads_grid.dims(), split.dims());
        assert_eq!(
            heads_grid.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            split.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        assert_eq!(
            p.merge_heads(&heads_grid).unwrap().to_vec2::<f32>().unwrap(),
            rows.to_vec2::<f32>().unwrap()
        );
        // The middle third of rows three times as wide: the same grid.
        let wide = Tensor::cat(&[&(&rows * 2.0).unwrap(), &rows, &(&rows * 3.0).unwrap()], 1).unwrap();
        let middle = p.split_heads_of(&wide, heads * d, heads * d, heads).unwrap();
        assert_eq!(
            middle.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            split.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }

    /// The padded layout (training, exact passes) and the packed one (inference) give the same
    /// attention grid for each third of a Q/K/V product, and merge back to the same rows.
    #[test]
    fn both_layouts_split_and_merge_heads_alike() {
        let (lengths, seq, heads, d) = ([2usize, 4, 3], 4, 2, 3);
        let h = heads * d;
        let m = mask(&lengths, seq);
        let zero_pads = m.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let x = grid(lengths.len(), seq, 3 * h).broadcast_mul(&zero_pads).unwrap();
        let (padded, xs) = Grid::enter(&m, x.clone(), &ForwardMode::Exact).unwrap();
        let (packed, rows) = Grid::enter(&m, x.clone(), &ForwardMode::Inference).unwrap();
        assert!(padded.packing.is_none() && xs.dims() == x.dims());
        assert_eq!(rows.dims(), &[9, 3 * h], "inference packs the 9 real tokens");
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for i in 0..3 {
            let a = padded.split_heads_of(&xs, i * h, h, heads).unwrap();
            let b = packed.split_heads_of(&rows, i * h, h, heads).unwrap();
            assert_eq!(a.dims(), &[3, heads, seq, d]);
            assert_eq!(flat(&a), flat(&b), "third {i}");
            let merged = packed.merge_heads(&b).unwrap();
            let back = padded.merge_heads(&a).unwrap();
            assert_eq!(flat(&packed.leave(merged).unwrap()), flat(&back));
            assert_eq!(flat(&back), flat(&x.narrow(2, i * h, h).unwrap()));
        }
        let err = padded.split_heads_of(&xs, 0, h, 4).unwrap_err().to_string();
        assert!(err.contains("do not split into 4 heads"), "{err}");
    }

    #[test]
    fn nothing_to_skip_without_padding_or_off_f32() {
        let x = grid(2, 3, 4);
        assert!(Packing::of(&mask(&[3, 3], 3), &x).unwrap().is_none());
        let f64 = x.to_dtype(DType::F64).unwrap();
        assert!(Packing::of(&mask(&[3, 1], 3), &f64).unwrap().is_none());
    }

    #[test]
    fn rows_of_the_wrong_count_or_width_are_errors() {
        let x = grid(2, 3, 4);
        let p = Packing::of(&mask(&[3, 1], 3), &x).unwrap().unwrap();
        let three = Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap();
        let err = p.split_heads_of(&three, 0, 4, 2).unwrap_err().to_string();
        assert!(err.contains("3 rows for a batch of 4 real tokens"), "{err}");
        let odd = Tensor::zeros((4, 5), DType::F32, &Device::Cpu).unwrap();
        assert!(p
            .split_heads_of(&odd, 0, 5, 2)
            .unwrap_err()
            .to_string()
            .contains("heads"));
        let four = Tensor::zeros((4, 4), DType::F32, &Device::Cpu).unwrap();
        let past = p.split_heads_of(&four, 2, 4, 2).unwrap_err().to_string();
        assert!(past.contains("columns 2..6 of 4"), "{past}");
        let wrong = Tensor::zeros((3, 1, 3, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(p.merge_heads(&wrong).unwrap_err().to_string().contains("grid of 3 x 3"));
    }
}
