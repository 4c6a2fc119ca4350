//! Stratified sampling for maps: past the point budget, each label keeps a share in proportion to
//! its size, and at least one point, so no label disappears from the picture.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Indices of at most `max` rows (all of them when there are fewer), sorted.
pub fn stratified_sample(labels: &[String], max: usize, seed: u64) -> Vec<usize> {
    let n = labels.len();
    if n <= max {
        return (0..n).collect();
    }
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        by_label.entry(l.as_str()).or_default().push(i);
    }
    let k = by_label.len();
    let budget = max.max(k);
    // Largest remainder: floor shares, at least one each, then the leftover to the largest
    // remainders.
    let mut shares: Vec<(usize, f64)> = by_label
        .values()
        .map(|v| {
            let exact = v.len() as f64 * budget as f64 / n as f64;
            ((exact.floor() as usize).clamp(1, v.len()), exact - exact.floor())
        })
        .collect();
    let mut used: usize = shares.iter().map(|s| s.0).sum();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|a, b| shares[*b].1.total_cmp(&shares[*a].1));
    let sizes: Vec<usize> = by_label.values().map(Vec::len).collect();
    let mut i = 0;
    while used < budget && i < 10 * k {
        let l = order[i % k];
        if shares[l].0 < sizes[l] {
            shares[l].0 += 1;
            used += 1;
        }
        i += 1;
    }
    while used > budget {
        // Over budget only when many labels needed their one point; trim the largest shares.
        let l = (0..k).max_by_key(|l| shares[*l].0).unwrap_or(0);
        if shares[l].0 <= 1 {
            break;
        }
        shares[l].0 -= 1;
        used -= 1;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(used);
    for (idx, (share, _)) in by_label.values().zip(&shares) {
        let mut v = idx.clone();
        v.shuffle(&mut rng);
        out.extend_from_slice(&v[..*share]);
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_label_and_the_budget() {
        let mut labels: Vec<String> = Vec::new();
        labels.extend(std::iter::repeat_n("big".to_string(), 5000));
        labels.extend(std::iter::repeat_n("mid".to_string(), 900));
        labels.extend(std::iter::repeat_n("tiny".to_string(), 3));
        let s = stratified_sample(&labels, 1000, 1);
        assert_eq!(s.len(), 1000);
        let count = |l: &str| s.iter().filter(|i| labels[**i] == l).count();
        assert!(count("tiny") >= 1);
        assert!((840..=850).contains(&count("big")), "{}", count("big"));
        assert!((150..=155).contains(&count("mid")), "{}", count("mid"));
        assert_eq!(s, stratified_sample(&labels, 1000, 1), "seeded");
        assert_eq!(
            stratified_sample(&labels[..10], 1000, 1).len(),
            10,
            "small inputs are kept whole"
        );
    }
}
