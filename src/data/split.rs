//! The validation split: stratified by label and seeded, so every label is in both parts and the
//! same seed gives the same split. A multi-label row is placed by its rarest label, so rare
//! labels reach every part.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::dataset::Example;

/// Indices into the examples for training and validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
}

/// Splits `examples` so that each label gives `fraction` of its rows (rounded, at least one) to
/// validation while keeping at least one for training. Labels with a single row stay in training.
pub fn stratified_split(examples: &[Example], fraction: f64, seed: u64) -> Split {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in examples {
        for l in &e.labels {
            *counts.entry(l.as_str()).or_insert(0) += 1;
        }
    }
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        let key = match e.labels.len() {
            0 | 1 => e.label.as_str(),
            _ => e
                .labels
                .iter()
                .map(String::as_str)
                .min_by_key(|l| (counts.get(l).copied().unwrap_or(0), *l))
                .unwrap_or(e.label.as_str()),
        };
        by_label.entry(key).or_default().push(i);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for idx in by_label.values_mut() {
        idx.shuffle(&mut rng);
        let n = idx.len();
        let k = if n < 2 {
            0
        } else {
            ((n as f64 * fraction).round() as usize).clamp(1, n - 1)
        };
        valid.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    valid.sort_unstable();
    Split { train, valid }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(labels: &[(&str, usize)]) -> Vec<Example> {
        let mut v = Vec::new();
        for (l, n) in labels {
            for i in 0..*n {
                v.push(Example::single(format!("{l} {i}"), *l, v.len() + 2));
            }
        }
        v
    }

    #[test]
    fn stratified_seeded_and_complete() {
        let data = ex(&[("a", 50), ("b", 20), ("c", 3), ("d", 1)]);
        let s = stratified_split(&data, 0.2, 7);
        let count = |idx: &[usize], l: &str| idx.iter().filter(|i| data[**i].label == l).count();
        assert_eq!(count(&s.valid, "a"), 10);
        assert_eq!(count(&s.valid, "b"), 4);
        assert_eq!(count(&s.valid, "c"), 1, "at least one row per label");
        assert_eq!(count(&s.train, "c"), 2);
        assert_eq!((count(&s.valid, "d"), count(&s.train, "d")), (0, 1));
        let mut all: Vec<usize> = s.train.iter().chain(&s.valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..data.len()).collect::<Vec<_>>(), "a partition");
        assert_eq!(s, stratified_split(&data, 0.2, 7), "seeded");
        assert_ne!(s, stratified_split(&data, 0.2, 8));
    }

    #[test]
    fn multi_label_rows_are_placed_by_their_rarest_label() {
        let mut data = ex(&[("common", 40)]);
        for i in 0..10 {
            data.push(Example::multi(
                format!("both {i}"),
                vec!["common".into(), "rare".into()],
                100 + i,
            ));
        }
        let s = stratified_split(&data, 0.2, 3);
        let rare = |idx: &[usize]| idx.iter().filter(|i| data[**i].labels.len() == 2).count();
        assert_eq!((rare(&s.valid), rare(&s.train)), (2, 8));
    }
}
