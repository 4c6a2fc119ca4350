//! The validation split: stratified by label and seeded, so every label is in both parts and the
//! same seed gives the same split.

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
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        by_label.entry(e.label.as_str()).or_default().push(i);
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
                v.push(Example {
                    text: format!("{l} {i}"),
                    label: l.to_string(),
                    line: v.len() + 2,
                });
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
}
