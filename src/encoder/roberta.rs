//! RoBERTa and XLM-RoBERTa (the multilingual sentence models such as
//! paraphrase-multilingual-MiniLM-L12-v2 and multilingual-e5-base): BERT's layers, with positions
//! counted from the padding index (Hugging Face's `create_position_ids_from_input_ids`: the first
//! token takes row `padding_idx + 1`) and a SentencePiece tokenizer read from `tokenizer.json`.

use super::bert::{Bert, Layout};
use super::config::BertConfig;
use super::weights::Weights;
use crate::error::Result;

/// Loads a (XLM-)RoBERTa encoder. Padding tokens get later rows than Hugging Face gives them
/// (which gives them `padding_idx`), but they are masked out of attention and pooling, so no
/// real token's state depends on theirs.
pub fn load(cfg: &BertConfig, ws: &mut Weights) -> Result<Bert> {
    let layout = Layout {
        position_offset: cfg.position_offset(),
        ..Layout::BERT
    };
    Bert::load_as(cfg, ws, &layout)
}
