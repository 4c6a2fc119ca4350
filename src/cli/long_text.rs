//! The long-text flags of every command that embeds texts.

use clap::Args;

use attune::encoder::{ChunkPool, LongText, LongTextMode};

#[derive(Debug, Clone, Default, Args)]
pub struct LongTextArgs {
    /// Texts longer than the model's max_seq_length: truncate (keep the start) or chunk (embed
    /// overlapping windows and pool them) [default: as the model was fine-tuned, else truncate].
    #[arg(long, value_enum)]
    pub long_text: Option<LongTextMode>,
    /// With --long-text chunk: tokens from one window's start to the next [default: 3/4 of
    /// the window].
    #[arg(long, value_name = "TOKENS")]
    pub chunk_stride: Option<usize>,
    /// With --long-text chunk: how the windows' vectors become one.
    #[arg(long, value_enum, default_value_t = ChunkPool::Mean)]
    pub chunk_pool: ChunkPool,
}

impl LongTextArgs {
    /// The setting asked for; truncation when none is.
    pub fn long_text(&self) -> LongText {
        self.or(LongText::default())
    }

    /// The setting asked for, else `trained` (how a fine-tuned model's run embedded its rows).
    pub fn or(&self, trained: LongText) -> LongText {
        match self.long_text {
            Some(mode) => LongText {
                mode,
                stride: self.chunk_stride,
                pool: self.chunk_pool,
            },
            None => trained,
        }
    }
}
