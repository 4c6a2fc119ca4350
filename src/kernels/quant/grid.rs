//! Splits a matrix multiply's output into tiles of whole rows and whole blocks of outputs,
//! enough of them to keep the rayon pool busy, and lets each tile write its own part.

use std::ops::Range;

use rayon::prelude::*;

use super::BLOCK;

/// Rows a tile takes at most: its quantised activations stay in L2 while the weight blocks pass.
const ROW_CHUNK: usize = 32;

/// One task: these rows times these blocks of outputs.
#[derive(Debug, Clone)]
pub(crate) struct Tile {
    pub rows: Range<usize>,
    pub blocks: Range<usize>,
}

/// Tiles covering `rows` x `blocks`, at least four per thread where the shape allows.
pub(crate) fn tiles(rows: usize, blocks: usize) -> Vec<Tile> {
    let row_tiles = rows.div_ceil(ROW_CHUNK).max(1);
    let want = 4 * rayon::current_num_threads();
    let block_tiles = want.div_ceil(row_tiles).clamp(1, blocks.max(1));
    let per_block = blocks.div_ceil(block_tiles).max(1);
    let mut out = Vec::with_capacity(row_tiles * block_tiles);
    for r in 0..row_tiles {
        let rows = r * ROW_CHUNK..((r + 1) * ROW_CHUNK).min(rows);
        for b in (0..blocks).step_by(per_block) {
            out.push(Tile {
                rows: rows.clone(),
                blocks: b..(b + per_block).min(blocks),
            });
        }
    }
    out
}

/// Walks the tile's blocks in runs of up to `max_blocks`, and within each run its rows in steps
/// of at most `max_rows`: calls `f(first_block, blocks, first_row, rows)`, which must do all
/// `blocks` and returns how many rows it did (at least one). Inlined, so that `f` (the kernel call
/// and its epilogue) compiles in the caller's instruction set: out of line it ran as SSE2 code.
#[inline(always)]
pub(crate) fn walk_wide(
    tile: &Tile,
    max_blocks: usize,
    max_rows: usize,
    mut f: impl FnMut(usize, usize, usize, usize) -> usize,
) {
    let mut b = tile.blocks.start;
    while b < tile.blocks.end {
        let nb = (tile.blocks.end - b).min(max_blocks.max(1));
        let mut r0 = tile.rows.start;
        while r0 < tile.rows.end {
            r0 += f(b, nb, r0, (tile.rows.end - r0).min(max_rows)).max(1);
        }
        b += nb;
    }
}

/// The output matrix, written by tiles that never overlap.
pub(crate) struct Out {
    ptr: *mut f32,
    cols: usize,
    len: usize,
}

// SAFETY: `write` is unsafe and its callers promise disjoint elements (each tile writes its own
// rows x blocks, and `tiles` covers each once: tested); the buffer outlives the parallel loop.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// Writes `v` at (`row`, `col`) onwards (bounds are checked).
    ///
    /// # Safety
    /// No other thread may write or read these elements meanwhile: call it only for elements of
    /// the tile the caller was given.
    #[inline]
    pub unsafe fn write(&self, row: usize, col: usize, v: &[f32]) {
        let i = row * self.cols + col;
        assert!(col + v.len() <= self.cols && i + v.len() <= self.len);
        // A whole block as a fixed-size copy compiles to vector moves; a copy of a length known
        // only at run time is a call to memcpy, which took 10-15 % of an int8 embedding.
        if let Ok(block) = <&[f32; BLOCK]>::try_from(v) {
            // SAFETY: in bounds (asserted); the caller's tile owns these elements.
            return unsafe { (self.ptr.add(i) as *mut [f32; BLOCK]).write_unaligned(*block) };
        }
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.ptr.add(i), v.len()) }
    }
}

/// Runs `f` on every tile in parallel, giving it the output to write; returns the output
/// (`rows` x `cols`, row-major).
///
/// # Safety
/// `f` must write every element of its tile: each of its rows, at every column of its blocks
/// (`cols` = the blocks' columns, the last block possibly narrower). The output is not
/// zero-filled first.
pub(crate) unsafe fn run(rows: usize, cols: usize, blocks: usize, f: impl Fn(&Tile, &Out) + Sync) -> Vec<f32> {
    // Not zero-filled: the tiles write every element (tested below), and the fill cost as much
    // as the epilogue's copies.
    let mut y = Vec::<f32>::with_capacity(rows * cols);
    let out = Out {
        ptr: y.as_mut_ptr(),
        cols,
        len: rows * cols,
    };
    tiles(rows, blocks).par_iter().for_each(|t| f(t, &out));
    // SAFETY: `f` wrote all of each tile (the caller's promise), and the tiles cover every row
    // and block once, so all `rows * cols` elements are initialised.
    unsafe { y.set_len(rows * cols) };
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_every_row_and_block_once() {
        for (rows, blocks) in [(1, 1), (5, 24), (33, 3), (640, 96), (100, 1)] {
            let mut seen = vec![0u8; rows * blocks];
            for t in tiles(rows, blocks) {
                for r in t.rows.clone() {
                    for b in t.blocks.clone() {
                        seen[r * blocks + b] += 1;
                    }
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{rows}x{blocks}");
        }
    }
}
