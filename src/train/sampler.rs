//! What each training step sees.
//!
//! - [`BalancedBatches`]: batches for in-batch losses, each holding at least two rows of every
//!   label it draws, with labels drawn evenly (class-balanced) or in proportion to their size.
//! - [`setfit_pairs`]: SetFit's pairs: per row and iteration, one positive and one negative.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One epoch's batches for per-row losses: every row once, in random batches of rows of similar
/// length. A batch is padded to its longest text, so random batches of short and long texts
/// cost about twice the compute of batches of like lengths (measured on Banking77: 1.31 against
/// 0.63 s a step). Rows are shuffled, cut into pools of [`POOL_BATCHES`] batches, sorted by
/// length within a pool, cut into batches, and the batches shuffled: each batch is still a
/// random draw of labels. The order is drawn at the epoch's start, so a resumed run gets the
/// same batches.
#[derive(Debug, Clone, Default)]
pub struct ShuffledBatches {
    batches: Vec<Vec<usize>>,
}

/// Batches per pool sorted by length: large enough to find like lengths, small enough that a
/// batch's rows still come from all over the data.
pub const POOL_BATCHES: usize = 50;

impl ShuffledBatches {
    /// `lengths[i]` is row i's length (any measure that orders like token counts).
    pub fn new(lengths: &[usize], batch_size: usize, rng: &mut ChaCha8Rng) -> Self {
        let bs = batch_size.max(1);
        let mut order: Vec<usize> = (0..lengths.len()).collect();
        order.shuffle(rng);
        let mut batches = Vec::with_capacity(lengths.len().div_ceil(bs));
        for pool in order.chunks_mut(bs * POOL_BATCHES) {
            pool.sort_by_key(|&i| lengths[i]);
            batches.extend(pool.chunks(bs).map(<[usize]>::to_vec));
        }
        batches.shuffle(rng);
        ShuffledBatches { batches }
    }

    /// Batch `i` of the epoch (wrapping around past the last one).
    pub fn batch(&self, i: usize) -> Vec<usize> {
        if self.batches.is_empty() {
            return Vec::new();
        }
        self.batches[i % self.batches.len()].clone()
    }
}

#[cfg(test)]
mod shuffled_tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_row_once_in_batches_of_like_length_and_seeded() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 7919) % 97).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = ShuffledBatches::new(&lengths, 10, &mut rng);
        let mut seen: Vec<usize> = (0..100).flat_map(|i| s.batch(i)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>(), "each row once per epoch");
        // Within a batch lengths are close: the spread is far below the data's (0..97).
        let spread = |b: &[usize]| {
            let l: Vec<usize> = b.iter().map(|&i| lengths[i]).collect();
            l.iter().max().unwrap() - l.iter().min().unwrap()
        };
        let mean: f64 = (0..100).map(|i| spread(&s.batch(i)) as f64).sum::<f64>() / 100.0;
        assert!(mean < 10.0, "mean spread within a batch {mean}");
        let again = ShuffledBatches::new(&lengths, 10, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(s.batch(3), again.batch(3));
        assert_ne!(s.batch(0), s.batch(1));
    }
}

/// Draws batches of row indices grouped by label.
#[derive(Debug, Clone)]
pub struct BalancedBatches {
    /// Row indices of each label.
    by_label: Vec<Vec<usize>>,
    /// Per label, the shuffled queue rows are taken from; refilled when empty.
    queues: Vec<Vec<usize>>,
    /// Labels waiting to be drawn, when a batch cannot hold all of them.
    label_queue: Vec<usize>,
    batch_size: usize,
    balanced: bool,
}

impl BalancedBatches {
    /// `labels[i]` is the label id of row i; `n_labels` ids in all. Every label needs two rows.
    pub fn new(labels: &[usize], n_labels: usize, batch_size: usize, balanced: bool) -> Self {
        let mut by_label = vec![Vec::new(); n_labels];
        for (i, l) in labels.iter().enumerate() {
            by_label[*l].push(i);
        }
        BalancedBatches {
            queues: vec![Vec::new(); n_labels],
            by_label,
            label_queue: Vec::new(),
            batch_size: batch_size.max(2),
            balanced,
        }
    }

    fn take(&mut self, label: usize, n: usize, rng: &mut ChaCha8Rng, out: &mut Vec<usize>) {
        let rows = self.by_label[label].len();
        // Never the same row twice in a batch: the pair would be trivial.
        let present = out.iter().filter(|i| self.by_label[label].contains(i)).count();
        let n = n.min(rows - present);
        let mut taken = 0;
        let mut pops = 0;
        while taken < n && pops <= 3 * rows {
            pops += 1;
            if self.queues[label].is_empty() {
                let mut q = self.by_label[label].clone();
                q.shuffle(rng);
                self.queues[label] = q;
            }
            let Some(i) = self.queues[label].pop() else { break };
            if !out.contains(&i) {
                out.push(i);
                taken += 1;
            }
        }
    }

    /// The next batch.
    pub fn next_batch(&mut self, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let labels: Vec<usize> = (0..self.by_label.len())
            .filter(|l| self.by_label[*l].len() >= 2)
            .collect();
        let per = 2usize;
        let slots = (self.batch_size / per).max(1);
        let chosen: Vec<usize> = if labels.len() <= slots {
            labels.clone()
        } else {
            let mut c = Vec::with_capacity(slots);
            while c.len() < slots {
                if self.label_queue.is_empty() {
                    let mut q = if self.balanced {
                        labels.clone()
                    } else {
                        // In proportion to size: a label appears once per `per` rows it has.
                        labels
                            .iter()
                            .flat_map(|l| std::iter::repeat_n(*l, self.by_label[*l].len() / per))
                            .collect()
                    };
                    q.shuffle(rng);
                    self.label_queue = q;
                }
                if let Some(l) = self.label_queue.pop() {
                    if !c.contains(&l) {
                        c.push(l);
                    }
                }
            }
            c
        };
        let mut out = Vec::with_capacity(self.batch_size);
        // Rows per chosen label: an even share, the remainder to random labels (balanced) or
        // to labels in proportion to their size.
        let base = (self.batch_size / chosen.len()).max(per);
        for &l in &chosen {
            self.take(l, base, rng, &mut out);
        }
        let mut guard = 0;
        while out.len() < self.batch_size && guard < 10 * self.batch_size {
            guard += 1;
            let l = if self.balanced {
                chosen[rng.gen_range(0..chosen.len())]
            } else {
                let total: usize = chosen.iter().map(|l| self.by_label[*l].len()).sum();
                let mut r = rng.gen_range(0..total);
                let mut pick = chosen[0];
                for &c in &chosen {
                    let n = self.by_label[c].len();
                    if r < n {
                        pick = c;
                        break;
                    }
                    r -= n;
                }
                pick
            };
            self.take(l, 1, rng, &mut out);
        }
        out
    }
}

/// One SetFit pair: two rows and whether they share a label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub target: f32,
}

/// SetFit's pairs: for each iteration and each row, a positive (another row of its label) and a
/// negative (a row of another label), shuffled.
pub fn setfit_pairs(labels: &[usize], iterations: usize, rng: &mut ChaCha8Rng) -> Vec<Pair> {
    let n = labels.len();
    let mut pairs = Vec::with_capacity(2 * n * iterations);
    for _ in 0..iterations {
        for a in 0..n {
            let same: Vec<usize> = (0..n).filter(|j| *j != a && labels[*j] == labels[a]).collect();
            let diff: Vec<usize> = (0..n).filter(|j| labels[*j] != labels[a]).collect();
            if let Some(b) = same.choose(rng) {
                pairs.push(Pair { a, b: *b, target: 1.0 });
            }
            if let Some(b) = diff.choose(rng) {
                pairs.push(Pair { a, b: *b, target: 0.0 });
            }
        }
    }
    pairs.shuffle(rng);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn batches_hold_two_per_label_and_balance_classes() {
        // 3 labels: 100, 20, 4 rows.
        let labels: Vec<usize> = std::iter::repeat_n(0, 100)
            .chain(std::iter::repeat_n(1, 20))
            .chain(std::iter::repeat_n(2, 4))
            .collect();
        let mut s = BalancedBatches::new(&labels, 3, 12, true);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [0usize; 3];
        for _ in 0..50 {
            let b = s.next_batch(&mut rng);
            assert_eq!(b.len(), 12);
            let mut uniq = b.clone();
            uniq.sort_unstable();
            uniq.dedup();
            assert_eq!(uniq.len(), 12, "no row twice in a batch");
            for (l, total) in seen.iter_mut().enumerate() {
                let n = b.iter().filter(|i| labels[**i] == l).count();
                assert!(n >= 2, "label {l} has {n} rows in {b:?}");
                *total += n;
            }
        }
        // The smallest label (4 rows) still gets a fair share of the batch.
        assert!(seen[2] >= 4 * 50 - 1, "{seen:?}");
    }

    #[test]
    fn many_labels_are_cycled_two_rows_each() {
        let labels: Vec<usize> = (0..40).flat_map(|l| std::iter::repeat_n(l, 5)).collect();
        let mut s = BalancedBatches::new(&labels, 40, 16, true);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut covered = std::collections::HashSet::new();
        for _ in 0..5 {
            let b = s.next_batch(&mut rng);
            assert_eq!(b.len(), 16);
            let mut counts = std::collections::HashMap::new();
            for i in &b {
                *counts.entry(labels[*i]).or_insert(0) += 1;
                covered.insert(labels[*i]);
            }
            assert!(counts.values().all(|c| *c >= 2), "{counts:?}");
        }
        assert_eq!(covered.len(), 40, "five batches of 8 labels cover all 40");
    }

    #[test]
    fn setfit_pairs_are_labelled_right() {
        let labels = [0, 0, 1, 1, 1];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pairs = setfit_pairs(&labels, 2, &mut rng);
        assert_eq!(pairs.len(), 20);
        for p in &pairs {
            assert_ne!(p.a, p.b);
            assert_eq!(p.target == 1.0, labels[p.a] == labels[p.b]);
        }
    }
}
