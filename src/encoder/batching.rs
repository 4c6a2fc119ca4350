//! Inference batches formed by a budget of padded tokens rather than a count of texts.

/// Padded tokens per inference batch by default: enough rows for the matrix multiplies to run
/// near their best, few enough that long texts do not hold the machine (BENCHMARKS.md, "Batching
/// by tokens").
pub const DEFAULT_BATCH_TOKENS: usize = 1024;

/// Forms inference batches over texts of `lengths` tokens: longest first, so each batch holds
/// texts of similar length, and each batch at most `max_texts` texts and at most `max_tokens`
/// padded tokens (its count times its longest; a text longer than the budget goes alone).
/// Returns the texts' indices, batch by batch.
pub fn token_batches(lengths: &[usize], max_texts: usize, max_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted longest first: the batch's first text is its longest.
        let longest = current.first().map_or(lengths[i], |&f| lengths[f]).max(1);
        if !current.is_empty() && (current.len() >= max_texts || (current.len() + 1) * longest > max_tokens) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_the_budget_longest_first_and_cover_every_text_once() {
        let lengths = [3, 50, 7, 7, 200, 12, 1, 50];
        let batches = token_batches(&lengths, 4, 100);
        // 200 alone (over budget on its own); 50+50 = 100; then 12,7,7,3 (4 texts, 48 tokens); 1.
        assert_eq!(batches, vec![vec![4], vec![1, 7], vec![5, 2, 3, 0], vec![6]]);
        for b in &batches {
            let longest = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(b.len() == 1 || b.len() * longest <= 100);
        }
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
        assert!(token_batches(&[], 4, 100).is_empty());
        assert_eq!(
            token_batches(&[5; 10], 3, usize::MAX).len(),
            4,
            "the text count still caps"
        );
    }
}
