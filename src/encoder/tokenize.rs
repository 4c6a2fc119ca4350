//! Turns texts into padded id tensors with the model's `tokenizer.json`, padding to the longest
//! text of each batch and truncating at the model's `max_seq_length` (sentence-transformers'
//! behaviour), not at the fixed length `tokenizer.json` may carry.

use std::path::Path;

use candle_core::{Device, Tensor};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{Error, Result};

/// A tokenised batch: ids, token type ids and attention mask, each (batch, seq) u32.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    pub ids: Tensor,
    pub type_ids: Tensor,
    pub mask: Tensor,
    /// Real (unpadded) length of each text, in tokens.
    pub lengths: Vec<usize>,
}

/// Which end of a too-long text is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Truncate {
    /// Keep the start (sentence-transformers' behaviour).
    #[default]
    End,
    /// Keep the end.
    Start,
    /// Refuse texts longer than the model takes.
    None,
}

/// A text's token ids without special tokens, and each token's byte span in the text.
pub type ContentTokens = (Vec<u32>, Vec<(usize, usize)>);

/// A tokenizer set up for sentence embedding.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer cutting texts from the left (keeps their end).
    left: Tokenizer,
    max_len: usize,
    /// The special tokens before and after one text's content.
    specials: (Vec<u32>, Vec<u32>),
    /// The same tokenizer cutting and padding nothing (long texts in windows).
    whole: Tokenizer,
    path: std::path::PathBuf,
    /// The folder's default prompt, put before every text as sentence-transformers does.
    prompt: Option<String>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer").field("max_len", &self.max_len).finish()
    }
}

impl TextTokenizer {
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        if !path.exists() {
            return Err(Error::folder(
                path.parent().unwrap_or(path),
                "tokenizer.json is missing (attune reads the fast-tokenizer file)",
            ));
        }
        let bad = |reason: String| Error::Tokenizer {
            path: path.into(),
            reason,
        };
        let mut inner = Tokenizer::from_file(path).map_err(|e| bad(e.to_string()))?;
        let pad = inner.get_padding().cloned();
        let (pad_id, pad_token) = match pad {
            Some(p) => (p.pad_id, p.pad_token),
            None => {
                let token = ["[PAD]", "<pad>"]
                    .into_iter()
                    .find(|t| inner.token_to_id(t).is_some())
                    .ok_or_else(|| bad("no padding token ([PAD] or <pad>) in the vocabulary".into()))?;
                (inner.token_to_id(token).unwrap_or(0), token.to_string())
            }
        };
        inner.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..Default::default()
        }));
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(|e| bad(e.to_string()))?;
        let mut left = inner.clone();
        left.with_truncation(Some(TruncationParams {
            max_length: max_len,
            direction: tokenizers::TruncationDirection::Left,
            ..Default::default()
        }))
        .map_err(|e| bad(e.to_string()))?;
        let specials = specials(&inner).map_err(bad)?;
        let mut whole = inner.clone();
        whole.with_truncation(None).map_err(|e| bad(e.to_string()))?;
        whole.with_padding(None);
        Ok(TextTokenizer {
            inner,
            left,
            max_len,
            specials,
            whole,
            path: path.to_path_buf(),
            prompt: None,
        })
    }

    /// Applies a sentence-transformers folder's text settings: `do_lower_case` (a lowercasing
    /// step before the tokenizer's own normaliser, as sentence-transformers adds one), the
    /// default prompt (before every text; long-text windows each start with it), and, for
    /// XLM-R's tokenizer, splitting on whitespace before the SentencePiece step (see
    /// [`split_on_whitespace`]).
    pub fn with_text_options(
        mut self,
        lowercase: bool,
        prompt: Option<String>,
        whitespace_split: bool,
    ) -> Result<Self> {
        if whitespace_split {
            for t in [&mut self.inner, &mut self.left, &mut self.whole] {
                split_on_whitespace(t);
            }
        }
        if lowercase {
            for t in [&mut self.inner, &mut self.left, &mut self.whole] {
                let mut steps = vec![tokenizers::NormalizerWrapper::from(tokenizers::normalizers::Lowercase)];
                steps.extend(t.get_normalizer().cloned());
                t.with_normalizer(Some(tokenizers::normalizers::Sequence::new(steps)))
                    .map_err(|e| Error::Internal(format!("tokenizer: cannot add lowercasing: {e}")))?;
            }
        }
        if let Some(p) = &prompt {
            let ids = self
                .whole
                .encode(p.as_str(), false)
                .map_err(|e| Error::Internal(format!("tokenizer failed on the prompt: {e}")))?;
            self.specials.0.extend_from_slice(ids.get_ids());
        }
        self.prompt = prompt;
        Ok(self)
    }

    /// Encodes `texts` with `tok`, the default prompt before each when the folder has one
    /// (texts are copied only then).
    fn encode_all(&self, tok: &Tokenizer, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        let done = match &self.prompt {
            Some(p) => tok.encode_batch(texts.iter().map(|t| format!("{p}{t}")).collect(), true),
            None => tok.encode_batch(texts.to_vec(), true),
        };
        done.map_err(|e| Error::Internal(format!("tokenizer failed: {e}")))
    }

    /// Fails when the tokenizer can produce ids past the model's word table (`vocab_size`):
    /// a tokenizer of another model would otherwise index out of the table or embed garbage.
    pub fn check_vocab(&self, vocab_size: usize) -> Result<()> {
        let largest = self.inner.get_vocab(true).into_values().max().unwrap_or(0) as usize;
        if largest >= vocab_size {
            return Err(Error::Tokenizer {
                path: self.path.clone(),
                reason: format!(
                    "it has token ids up to {largest}, but config.json's vocab_size is {vocab_size}: \
                     this tokenizer does not belong to these weights (copy the model's own tokenizer.json \
                     into the folder)"
                ),
            });
        }
        Ok(())
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Token count of each text after truncation, without padding.
    pub fn lengths(&self, texts: &[&str]) -> Result<Vec<usize>> {
        let enc = self.encode(texts)?;
        Ok(enc
            .iter()
            .map(|e| e.get_attention_mask().iter().filter(|m| **m == 1).count())
            .collect())
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>> {
        self.encode_with(texts, Truncate::End)
    }

    fn encode_with(&self, texts: &[&str], truncate: Truncate) -> Result<Vec<tokenizers::Encoding>> {
        let tok = if truncate == Truncate::Start {
            &self.left
        } else {
            &self.inner
        };
        self.encode_all(tok, texts)
    }

    /// Tokenises a batch into tensors on `device`.
    pub fn batch(&self, texts: &[&str], device: &Device) -> Result<TokenBatch> {
        self.batch_with(texts, device, Truncate::End)
    }

    /// As [`TextTokenizer::batch`], cutting too-long texts as `truncate` says.
    pub fn batch_with(&self, texts: &[&str], device: &Device, truncate: Truncate) -> Result<TokenBatch> {
        if texts.is_empty() {
            return Err(Error::InvalidArgument("cannot tokenise an empty batch".into()));
        }
        if truncate == Truncate::None {
            let lengths = self.untruncated_lengths(texts)?;
            if let Some((i, n)) = lengths.iter().enumerate().find(|(_, n)| **n > self.max_len) {
                return Err(Error::TooLong {
                    index: i,
                    tokens: *n,
                    max: self.max_len,
                });
            }
        }
        let enc = self.encode_with(texts, truncate)?;
        let seq = enc[0].get_ids().len();
        let n = enc.len();
        let mut ids = Vec::with_capacity(n * seq);
        let mut types = Vec::with_capacity(n * seq);
        let mut mask = Vec::with_capacity(n * seq);
        let mut lengths = Vec::with_capacity(n);
        for e in &enc {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
            lengths.push(e.get_attention_mask().iter().filter(|m| **m == 1).count());
        }
        Ok(TokenBatch {
            ids: Tensor::from_vec(ids, (n, seq), device)?,
            type_ids: Tensor::from_vec(types, (n, seq), device)?,
            mask: Tensor::from_vec(mask, (n, seq), device)?,
            lengths,
        })
    }
}

/// Puts a whitespace split before a bare `Metaspace` pre-tokenizer, as transformers 5 rebuilds
/// XLM-R's tokenizer (and as SentencePiece itself drops extra whitespace). The `tokenizer.json`
/// files on the Hub, made by transformers 4's converter, run `Metaspace` alone, which turns
/// trailing or repeated spaces into extra `▁` tokens: "trailing  " gets one more token than the
/// reference gives, and its embedding moved by up to 0.58 on a model of real size.
fn split_on_whitespace(t: &mut Tokenizer) {
    use tokenizers::pre_tokenizers::{sequence::Sequence, whitespace::WhitespaceSplit, PreTokenizerWrapper};
    if let Some(PreTokenizerWrapper::Metaspace(m)) = t.get_pre_tokenizer() {
        let steps = vec![
            PreTokenizerWrapper::WhitespaceSplit(WhitespaceSplit),
            PreTokenizerWrapper::Metaspace(m.clone()),
        ];
        t.with_pre_tokenizer(Some(Sequence::new(steps)));
    }
}

/// The tokens the tokenizer puts before and after a text's own, found by encoding a probe
/// text with and without them.
fn specials(t: &Tokenizer) -> std::result::Result<(Vec<u32>, Vec<u32>), String> {
    let mut t = t.clone();
    t.with_padding(None);
    t.with_truncation(None).map_err(|e| e.to_string())?;
    let probe = "a";
    let with = t.encode(probe, true).map_err(|e| e.to_string())?;
    let without = t.encode(probe, false).map_err(|e| e.to_string())?;
    let (w, c) = (with.get_ids(), without.get_ids());
    let at = (0..=w.len().saturating_sub(c.len()))
        .find(|&i| w[i..].starts_with(c))
        .ok_or("the tokenizer's special tokens wrap a text in a way attune cannot follow")?;
    Ok((w[..at].to_vec(), w[at + c.len()..].to_vec()))
}

impl TextTokenizer {
    /// Special tokens the model adds around one text ([CLS] and [SEP] for BERT).
    pub fn special_tokens(&self) -> usize {
        self.specials.0.len() + self.specials.1.len()
    }

    /// The content tokens of `text` (no special tokens, no truncation) with their byte offsets.
    pub fn content_tokens(&self, text: &str) -> Result<ContentTokens> {
        let e = self
            .whole
            .encode(text, false)
            .map_err(|e| Error::Internal(format!("tokenizer failed: {e}")))?;
        Ok((e.get_ids().to_vec(), e.get_offsets().to_vec()))
    }

    /// Unknown tokens and all tokens (special tokens left out) of each text: how much of the
    /// text the vocabulary cannot represent. Byte-level vocabularies have no unknown token.
    pub fn unknown_counts(&self, texts: &[&str]) -> Result<(Vec<usize>, Vec<usize>)> {
        let unk = ["[UNK]", "<unk>"].iter().find_map(|t| self.whole.token_to_id(t));
        let enc = self
            .whole
            .encode_batch(texts.to_vec(), false)
            .map_err(|e| Error::Internal(format!("tokenizer failed: {e}")))?;
        Ok(enc
            .iter()
            .map(|e| {
                let unknown = e.get_ids().iter().filter(|id| Some(**id) == unk).count();
                (unknown, e.get_ids().len())
            })
            .unzip())
    }

    /// `ids` with the model's special tokens around them, as the tokenizer adds them.
    pub fn with_specials(&self, ids: &[u32]) -> Vec<u32> {
        let (pre, post) = &self.specials;
        let mut v = Vec::with_capacity(pre.len() + ids.len() + post.len());
        v.extend_from_slice(pre);
        v.extend_from_slice(ids);
        v.extend_from_slice(post);
        v
    }

    /// A padded batch of ready token-id rows (type ids 0), as [`TextTokenizer::batch`] makes.
    pub fn batch_from_ids(&self, rows: &[&[u32]], device: &Device) -> Result<TokenBatch> {
        if rows.is_empty() {
            return Err(Error::InvalidArgument("cannot tokenise an empty batch".into()));
        }
        let pad = self.inner.get_padding().map_or(0, |p| p.pad_id);
        let seq = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let n = rows.len();
        let (mut ids, mut mask) = (Vec::with_capacity(n * seq), Vec::with_capacity(n * seq));
        for r in rows {
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(pad, seq - r.len()));
            mask.extend(std::iter::repeat_n(1u32, r.len()));
            mask.extend(std::iter::repeat_n(0u32, seq - r.len()));
        }
        Ok(TokenBatch {
            ids: Tensor::from_vec(ids, (n, seq), device)?,
            type_ids: Tensor::zeros((n, seq), candle_core::DType::U32, device)?,
            mask: Tensor::from_vec(mask, (n, seq), device)?,
            lengths: rows.iter().map(|r| r.len()).collect(),
        })
    }

    /// Token count of each text without truncation (to find texts that will be cut).
    pub fn untruncated_lengths(&self, texts: &[&str]) -> Result<Vec<usize>> {
        let enc = self.encode_all(&self.whole, texts)?;
        Ok(enc.iter().map(|e| e.get_ids().len()).collect())
    }
}
