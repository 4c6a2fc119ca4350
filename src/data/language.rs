//! Whether the data's language fits the base model: the share of tokens the model's vocabulary
//! does not know, and letters in scripts an English-only model was never trained on.

use super::review::{Problem, Severity};
use super::Example;

/// Tokens unknown to the vocabulary above this share is a warning.
const UNKNOWN_SHARE: f64 = 0.01;
/// Letters outside the Latin script above this share, with an English-only base, is a warning.
const NON_LATIN_SHARE: f64 = 0.2;
/// Lines listed per problem.
const MAX_LINES: usize = 50;

/// What the base model's tokenizer and catalogue entry say about the data.
#[derive(Debug, Clone, Default)]
pub struct LanguageFit<'a> {
    /// Unknown tokens per example (same order as the examples).
    pub unknown: Vec<usize>,
    /// Tokens per example, without special tokens.
    pub tokens: Vec<usize>,
    /// The base model's name and whether it is known to be English-only.
    pub base: &'a str,
    pub english_only: bool,
}

/// The script a letter belongs to, in the broad groups a vocabulary covers or not.
fn script(c: char) -> Option<&'static str> {
    if !c.is_alphabetic() {
        return None;
    }
    Some(match c as u32 {
        0x0000..=0x024F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF | 0xFF21..=0xFF5A => "Latin",
        0x0370..=0x03FF | 0x1F00..=0x1FFF => "Greek",
        0x0400..=0x052F => "Cyrillic",
        0x0590..=0x05FF => "Hebrew",
        0x0600..=0x06FF | 0x0750..=0x077F => "Arabic",
        0x0900..=0x0DFF => "Indic",
        0x0E00..=0x0E7F => "Thai",
        0x3040..=0x30FF => "Japanese kana",
        0xAC00..=0xD7AF | 0x1100..=0x11FF => "Hangul",
        0x3400..=0x9FFF | 0xF900..=0xFAFF => "CJK",
        _ => "other",
    })
}

/// Letters outside the Latin script, all letters, and the most common non-Latin scripts.
fn scripts(rows: &[Example]) -> (usize, usize, Vec<&'static str>) {
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for e in rows {
        for s in e.text.chars().filter_map(script) {
            *counts.entry(s).or_default() += 1;
        }
    }
    let all: usize = counts.values().sum();
    let latin = counts.get("Latin").copied().unwrap_or(0);
    let mut others: Vec<_> = counts.into_iter().filter(|(s, _)| *s != "Latin").collect();
    others.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    (all - latin, all, others.into_iter().take(3).map(|(s, _)| s).collect())
}

pub(crate) fn language_checks(rows: &[Example], fit: &LanguageFit, problems: &mut Vec<Problem>) {
    let fix = format!(
        "Choose a base model trained on this language: `attune bases` lists the multilingual ones \
         (for example --base multilingual-minilm), or pass a folder of one. The current base is {}.",
        fit.base
    );
    let unknown: usize = fit.unknown.iter().sum();
    let tokens: usize = fit.tokens.iter().sum();
    if tokens > 0 && unknown as f64 / tokens as f64 > UNKNOWN_SHARE {
        let lines: Vec<Vec<usize>> = rows
            .iter()
            .zip(&fit.unknown)
            .filter(|(_, n)| **n > 0)
            .take(MAX_LINES)
            .map(|(e, _)| vec![e.line])
            .collect();
        problems.push(Problem {
            kind: "unknown_tokens".into(),
            severity: Severity::Warning,
            message: format!(
                "{:.1} % of the tokens ({unknown} of {tokens}) are unknown to the base model's vocabulary: it cannot tell those characters apart",
                100.0 * unknown as f64 / tokens as f64
            ),
            fix: fix.clone(),
            lines,
        });
    }
    let (non_latin, letters, names) = scripts(rows);
    if fit.english_only && letters > 0 && non_latin as f64 / letters as f64 > NON_LATIN_SHARE {
        problems.push(Problem {
            kind: "language_mismatch".into(),
            severity: Severity::Warning,
            message: format!(
                "{:.0} % of the letters are in other scripts than Latin ({}), but the base model was trained on English only",
                100.0 * non_latin as f64 / letters as f64,
                names.join(", ")
            ),
            fix,
            lines: vec![],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(texts: &[&str]) -> Vec<Example> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Example::single(*t, "x", i + 2))
            .collect()
    }

    #[test]
    fn scripts_are_told_apart() {
        let (non_latin, all, names) = scripts(&rows(&["Привет мир", "hello", "東京"]));
        assert_eq!((non_latin, all), (11, 16));
        assert_eq!(names, vec!["Cyrillic", "CJK"]);
        assert_eq!(scripts(&rows(&["Šport že čakå"])).0, 0, "accented Latin is Latin");
    }

    #[test]
    fn english_only_base_on_russian_is_a_warning_and_unknown_tokens_are_counted() {
        let data = rows(&["Привет, как дела?", "Где мой заказ?"]);
        let mut problems = Vec::new();
        let fit = LanguageFit {
            unknown: vec![2, 0],
            tokens: vec![6, 5],
            base: "sentence-transformers/all-MiniLM-L6-v2",
            english_only: true,
        };
        language_checks(&data, &fit, &mut problems);
        let kinds: Vec<_> = problems.iter().map(|p| p.kind.as_ref()).collect();
        assert_eq!(kinds, vec!["unknown_tokens", "language_mismatch"]);
        assert_eq!(problems[0].lines, vec![vec![2]]);
        assert!(problems[1].message.contains("Cyrillic"), "{}", problems[1].message);

        let mut none = Vec::new();
        let multilingual = LanguageFit {
            unknown: vec![0, 0],
            english_only: false,
            ..fit
        };
        language_checks(&data, &multilingual, &mut none);
        assert!(none.is_empty(), "{none:?}");
    }
}
