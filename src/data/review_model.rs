//! The review with the base model's checks (token lengths, likely mislabels, near-duplicates),
//! bounded: a file already blocked is refused before anything is embedded (a 10,000-label file
//! took 19 s and 2.7 GB to be refused), and each text is cut before tokenizing (a 50 MB text
//! took 5.7 GB) to what can tell whether it passes the model's limit.

use super::language::LanguageFit;
use super::review::{review, ModelView, Review, ReviewOptions};
use super::Dataset;
use crate::encoder::Encoder;
use crate::error::Result;

/// Characters per token a text is cut at before tokenizing: a token is at least one character,
/// and English runs near four, so `limit * 16` characters hold more than `limit` tokens of any
/// ordinary text, and the cut never changes whether a text passes the limit.
const CHARS_PER_TOKEN_CUT: usize = 16;

fn cut(text: &str, chars: usize) -> &str {
    match text.char_indices().nth(chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Reviews `ds`, with the checks of the encoder `load` gives where there is one and the file
/// is not already blocked (then the model is not even loaded).
pub fn review_with_model(
    ds: &Dataset,
    opts: &ReviewOptions,
    load: Option<&mut dyn FnMut() -> Result<Encoder>>,
) -> Result<Review> {
    let plain = review(ds, opts, ModelView::default())?;
    let Some(load) = load.filter(|_| !plain.blocking) else {
        return Ok(plain);
    };
    let encoder = load()?;
    let enc = &encoder;
    let limit = enc.max_seq_length();
    let texts: Vec<&str> = ds
        .examples
        .iter()
        .map(|e| cut(&e.text, limit * CHARS_PER_TOKEN_CUT))
        .collect();
    let tokens = enc.tokenizer().untruncated_lengths(&texts)?;
    let emb = enc.embed(&texts, 64)?;
    let (unknown, content) = enc.tokenizer().unknown_counts(&texts)?;
    let known = crate::source::catalog::for_dir(enc.dir());
    let language = LanguageFit {
        unknown,
        tokens: content,
        base: known.map_or("the model in this folder", |b| b.hub_id),
        english_only: known.is_some_and(|b| !b.multilingual),
    };
    review(
        ds,
        opts,
        ModelView {
            tokens: Some((&tokens, limit)),
            embeddings: Some(&emb),
            language: Some(&language),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut("héllo", 2), "hé");
        assert_eq!(cut("hi", 5), "hi");
    }
}
