//! Reviewing a labelled dataset before training: counts, a preview, and every problem with a
//! suggested fix. With the base model's embeddings it also flags rows whose nearest neighbours
//! agree on another label (likely mislabelled) and near-duplicate texts.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::dataset::{Dataset, Example};
use crate::error::Result;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Training cannot start until it is fixed.
    Blocking,
    /// Training runs, but the result will likely suffer, or rows are left out.
    Warning,
    /// Worth a look.
    Info,
}

/// One problem found, with the lines it concerns and what to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    pub kind: std::borrow::Cow<'static, str>,
    pub severity: Severity,
    pub message: String,
    pub fix: String,
    /// File lines concerned (1-based): one group per finding, with the rows that belong together
    /// (a duplicate and its repeats, a near-duplicate pair) or a single row.
    pub lines: Vec<Vec<usize>>,
}

/// Thresholds of the review.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    /// Fewer rows than this is a problem (the hosted reference asks for 250).
    pub min_rows: usize,
    /// Labels with fewer rows are left out of training.
    pub min_per_label: usize,
    /// Largest label / smallest label above this is imbalance.
    pub imbalance_ratio: f64,
    /// Cosine at or above which two different texts are near-duplicates.
    pub near_duplicate_cosine: f32,
    /// Neighbours looked at for the mislabel check, and how many must agree on another label.
    pub neighbours: usize,
    pub neighbours_agreeing: usize,
    /// Rows shown in the preview.
    pub preview_rows: usize,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            min_rows: 250,
            min_per_label: 5,
            imbalance_ratio: 10.0,
            near_duplicate_cosine: 0.97,
            neighbours: 5,
            // All of them: with imbalanced labels, the big label crowds every neighbourhood, and
            // a looser vote flags ordinary rows of the small labels.
            neighbours_agreeing: 5,
            preview_rows: 5,
        }
    }
}

/// One label and its row count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelCount {
    pub label: String,
    pub count: usize,
    /// Whether the label has enough rows to be trained on.
    pub trainable: bool,
}

/// The review of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    pub path: String,
    pub sha256: String,
    pub text_column: String,
    pub label_column: String,
    /// Rows read (with a text and a label), and rows that could not be read.
    pub rows: usize,
    pub unreadable_rows: usize,
    /// Rows training will use after the fixes attune applies itself.
    pub usable_rows: usize,
    pub labels: Vec<LabelCount>,
    pub preview: Vec<Example>,
    pub problems: Vec<Problem>,
    /// For a multi-label set: label cardinality and co-occurrence of the usable rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_label: Option<MultiLabelStats>,
    /// Whether a blocking problem stops training.
    pub blocking: bool,
    /// Whether the embedding checks (mislabels, near-duplicates) ran.
    pub embedding_checks: bool,
}

/// What review knows beyond the file: token counts and embeddings from the base model.
#[derive(Debug, Default, Clone, Copy)]
pub struct ModelView<'a> {
    /// Tokens per example (before truncation) and the model's limit.
    pub tokens: Option<(&'a [usize], usize)>,
    /// One embedding per example.
    pub embeddings: Option<&'a [Vec<f32>]>,
    /// Whether the data's language fits the base model.
    pub language: Option<&'a super::language::LanguageFit<'a>>,
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Rows training keeps: non-empty text, the first of exact duplicates, texts with one label
/// (or one label set) only, labels with at least `min_per_label` rows. A multi-label row loses
/// the labels under the minimum, and is left out when none of its labels is left (an empty set
/// would claim "none of these").
pub fn usable(ds: &Dataset, min_per_label: usize) -> Vec<Example> {
    let kept = consistent(ds);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for e in &kept {
        for l in &e.labels {
            *counts.entry(l.as_str()).or_default() += 1;
        }
    }
    let enough = |l: &String| counts.get(l.as_str()).copied().unwrap_or(0) >= min_per_label;
    if !ds.multi_label {
        return kept.into_iter().filter(|e| enough(&e.label)).cloned().collect();
    }
    kept.into_iter()
        .filter_map(|e| {
            let set: Vec<String> = e.labels.iter().filter(|l| enough(l)).cloned().collect();
            (set.len() == e.labels.len() || !set.is_empty()).then(|| Example::multi(e.text.clone(), set, e.line))
        })
        .collect()
}

/// Label cardinality and the labels that come together, for a multi-label set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultiLabelStats {
    /// Mean labels per row.
    pub cardinality: f64,
    /// Rows with two labels or more.
    pub rows_with_several: usize,
    /// Rows with no label ("none of these").
    pub rows_with_none: usize,
    /// The most common pairs of labels on one row, most common first.
    pub top_pairs: Vec<LabelPair>,
}

/// Two labels and the rows that carry both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelPair {
    pub a: String,
    pub b: String,
    pub rows: usize,
}

fn multi_label_stats(rows: &[Example]) -> MultiLabelStats {
    let mut pairs: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for e in rows {
        for (i, a) in e.labels.iter().enumerate() {
            for b in &e.labels[i + 1..] {
                *pairs.entry((a.as_str(), b.as_str())).or_default() += 1;
            }
        }
    }
    let mut top: Vec<LabelPair> = pairs
        .into_iter()
        .map(|((a, b), rows)| LabelPair {
            a: a.into(),
            b: b.into(),
            rows,
        })
        .collect();
    top.sort_by(|x, y| y.rows.cmp(&x.rows).then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b))));
    top.truncate(10);
    let labels: usize = rows.iter().map(|e| e.labels.len()).sum();
    MultiLabelStats {
        cardinality: labels as f64 / rows.len().max(1) as f64,
        rows_with_several: rows.iter().filter(|e| e.labels.len() > 1).count(),
        rows_with_none: rows.iter().filter(|e| e.labels.is_empty()).count(),
        top_pairs: top,
    }
}

/// Rows with a text, one label (set) per text, without exact repeats.
fn consistent(ds: &Dataset) -> Vec<&Example> {
    let mut labels_of: HashMap<String, Vec<&str>> = HashMap::new();
    for e in &ds.examples {
        let l = labels_of.entry(normalise(&e.text)).or_default();
        if !l.contains(&e.label.as_str()) {
            l.push(&e.label);
        }
    }
    let mut seen = std::collections::HashSet::new();
    ds.examples
        .iter()
        .filter(|e| !e.text.is_empty())
        .filter(|e| labels_of[&normalise(&e.text)].len() == 1)
        .filter(|e| seen.insert((e.text.clone(), e.label.clone())))
        .collect()
}

/// Reviews `ds`; `view` adds the checks that need the model.
pub fn review(ds: &Dataset, opts: &ReviewOptions, view: ModelView) -> Result<Review> {
    let mut problems = Vec::new();
    let counts = ds.label_counts();
    let usable_rows = usable(ds, opts.min_per_label);
    let mut usable_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &usable_rows {
        for l in &e.labels {
            *usable_counts.entry(l.as_str()).or_default() += 1;
        }
    }

    if !ds.bad_rows.is_empty() {
        let detail: Vec<String> = ds
            .bad_rows
            .iter()
            .take(5)
            .map(|b| format!("line {}: {}", b.line, b.reason))
            .collect();
        problems.push(Problem {
            kind: "unreadable_rows".into(),
            severity: Severity::Warning,
            message: format!("{} rows could not be read and are skipped ({})", ds.bad_rows.len(), detail.join("; ")),
            fix: "Fix these lines: save the file as UTF-8, quote fields that contain the delimiter, give every row a label.".into(),
            lines: ds.bad_rows.iter().map(|b| vec![b.line]).collect(),
        });
    }
    if ds.examples.len() < opts.min_rows {
        problems.push(Problem {
            kind: "too_few_rows".into(),
            severity: Severity::Warning,
            message: format!(
                "{} rows; at least {} are recommended (the hosted reference refuses fewer)",
                ds.examples.len(),
                opts.min_rows
            ),
            fix: format!("Add labelled rows until there are at least {}.", opts.min_rows),
            lines: vec![],
        });
    }
    let small: Vec<(&String, &usize)> = counts.iter().filter(|(_, c)| **c < opts.min_per_label).collect();
    if !small.is_empty() {
        let names: Vec<String> = small.iter().map(|(l, c)| format!("{l} ({c})")).collect();
        let names = crate::util::excerpt_list(&names, 20, 60);
        problems.push(Problem {
            kind: "small_labels".into(),
            severity: Severity::Warning,
            message: format!(
                "{} label(s) with fewer than {} rows are dropped from training: {}",
                small.len(),
                opts.min_per_label,
                names
            ),
            fix: format!(
                "Give each of these labels at least {} rows, or merge it into another label.",
                opts.min_per_label
            ),
            lines: vec![ds
                .examples
                .iter()
                .filter(|e| {
                    e.labels
                        .iter()
                        .any(|l| counts.get(l).copied().unwrap_or(0) < opts.min_per_label)
                })
                .map(|e| e.line)
                .collect()],
        });
    }
    let trainable_labels = usable_counts.len();
    if trainable_labels < 2 {
        problems.push(Problem {
            kind: "too_few_labels".into(),
            severity: Severity::Blocking,
            message: format!(
                "{trainable_labels} label(s) with at least {} usable rows; a classifier needs at least 2",
                opts.min_per_label
            ),
            fix: format!(
                "Add rows so that at least two labels have {} rows or more each.",
                opts.min_per_label
            ),
            lines: vec![],
        });
    }

    // Groups of rows that share a normalised text.
    let mut by_text: BTreeMap<String, Vec<&Example>> = BTreeMap::new();
    for e in ds.examples.iter().filter(|e| !e.text.is_empty()) {
        by_text.entry(normalise(&e.text)).or_default().push(e);
    }
    let mut dup_groups = Vec::new();
    let mut conflict_groups = Vec::new();
    for group in by_text.values().filter(|g| g.len() > 1) {
        let first = &group[0].label;
        if group.iter().all(|e| &e.label == first) {
            if group.iter().all(|e| e.text == group[0].text) {
                dup_groups.push(group.iter().map(|e| e.line).collect::<Vec<_>>());
            }
        } else {
            conflict_groups.push(group.iter().map(|e| e.line).collect::<Vec<_>>());
        }
    }
    if !dup_groups.is_empty() {
        let extra: usize = dup_groups.iter().map(|g| g.len() - 1).sum();
        problems.push(Problem {
            kind: "duplicates".into(),
            severity: Severity::Warning,
            message: format!("{} texts appear more than once with the same label ({extra} extra rows); training keeps the first of each", dup_groups.len()),
            fix: "Remove the repeated rows; repeats weigh a text twice and can leak into the validation split.".into(),
            lines: dup_groups,
        });
    }
    if !conflict_groups.is_empty() {
        problems.push(Problem {
            kind: "conflicting_labels".into(),
            severity: Severity::Warning,
            message: format!(
                "{} texts appear under more than one {}; training leaves them out",
                conflict_groups.len(),
                if ds.multi_label { "label set" } else { "label" }
            ),
            fix: if ds.multi_label {
                "Decide the right label set for each of these texts (one row carries every label that applies) and remove the other rows."
            } else {
                "Decide the right label for each of these texts and remove the other rows."
            }
            .into(),
            lines: conflict_groups,
        });
    }
    let empty: Vec<usize> = ds
        .examples
        .iter()
        .filter(|e| e.text.is_empty())
        .map(|e| e.line)
        .collect();
    if !empty.is_empty() {
        problems.push(Problem {
            kind: "empty_texts".into(),
            severity: Severity::Warning,
            message: format!("{} rows have an empty text and are left out", empty.len()),
            fix: "Fill in the text of these rows or delete them.".into(),
            lines: empty.into_iter().map(|l| vec![l]).collect(),
        });
    }
    if let Some((tokens, limit)) = view.tokens {
        let long: Vec<usize> = ds
            .examples
            .iter()
            .zip(tokens)
            .filter(|(_, n)| **n > limit)
            .map(|(e, _)| e.line)
            .collect();
        if !long.is_empty() {
            problems.push(Problem {
                kind: "truncated_texts".into(),
                severity: Severity::Info,
                message: format!(
                    "{} texts are longer than the model's {limit} tokens; with --long-text truncate (the default) only the first {limit} are used",
                    long.len()
                ),
                fix: "Pass --long-text chunk (the API's and dashboard's long_text setting) to embed every part of a long text in overlapping windows, or shorten these texts if their end does not matter for the label.".into(),
                lines: long.into_iter().map(|l| vec![l]).collect(),
            });
        }
    }
    if usable_counts.len() >= 2 {
        let (max_l, max_c) = usable_counts
            .iter()
            .max_by_key(|(_, c)| **c)
            .map(|(l, c)| (*l, *c))
            .unwrap_or(("", 0));
        let (min_l, min_c) = usable_counts
            .iter()
            .min_by_key(|(_, c)| **c)
            .map(|(l, c)| (*l, *c))
            .unwrap_or(("", 1));
        let ratio = max_c as f64 / min_c.max(1) as f64;
        if ratio > opts.imbalance_ratio {
            problems.push(Problem {
                kind: "class_imbalance".into(),
                severity: Severity::Warning,
                message: format!("labels are imbalanced: {max_l} has {max_c} rows, {min_l} has {min_c} ({ratio:.0}x)"),
                fix: "More rows for the smallest labels help most; attune samples classes evenly and weights the head by class, so training still sees them.".into(),
                lines: vec![],
            });
        }
    }
    if let Some(emb) = view.embeddings {
        embedding_checks(ds, emb, opts, &mut problems)?;
    }
    if let Some(fit) = view.language {
        super::language::language_checks(&ds.examples, fit, &mut problems);
    }

    problems.sort_by_key(|p| p.severity);
    let blocking = problems.iter().any(|p| p.severity == Severity::Blocking);
    Ok(Review {
        path: ds.path.display().to_string(),
        sha256: ds.sha256.clone(),
        text_column: ds.text_column.clone(),
        label_column: ds.label_column.clone(),
        rows: ds.examples.len(),
        unreadable_rows: ds.bad_rows.len(),
        usable_rows: usable_rows.len(),
        labels: counts
            .iter()
            .map(|(l, c)| LabelCount {
                label: l.clone(),
                count: *c,
                trainable: usable_counts.contains_key(l.as_str()),
            })
            .collect(),
        preview: ds.examples.iter().take(opts.preview_rows).cloned().collect(),
        problems,
        multi_label: ds.multi_label.then(|| multi_label_stats(&usable_rows)),
        blocking,
        embedding_checks: view.embeddings.is_some(),
    })
}

fn embedding_checks(ds: &Dataset, emb: &[Vec<f32>], opts: &ReviewOptions, problems: &mut Vec<Problem>) -> Result<()> {
    // Only rows with a text; neighbours that are the same text are not evidence.
    let idx: Vec<usize> = (0..ds.examples.len())
        .filter(|i| !ds.examples[*i].text.is_empty())
        .collect();
    if idx.len() < 3 {
        return Ok(());
    }
    let rows: Vec<Vec<f32>> = idx.iter().map(|i| emb[*i].clone()).collect();
    let nn = crate::eval::similarity::nearest(&rows, opts.neighbours + 3)?;
    let mut suspects = Vec::new();
    let mut suspect_lines = Vec::new();
    let mut near = Vec::new();
    for (a, neigh) in nn.iter().enumerate() {
        let ea = &ds.examples[idx[a]];
        let na = normalise(&ea.text);
        let others: Vec<&(usize, f32)> = neigh
            .iter()
            .filter(|(b, _)| normalise(&ds.examples[idx[*b]].text) != na)
            .take(opts.neighbours)
            .collect();
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for (b, _) in &others {
            *votes.entry(ds.examples[idx[*b]].label.as_str()).or_default() += 1;
        }
        if let Some((label, n)) = votes.iter().max_by_key(|(l, n)| (**n, std::cmp::Reverse(**l))) {
            if *label != ea.label && *n >= opts.neighbours_agreeing {
                suspects.push(format!(
                    "line {}: labelled {}, {n} of its {} nearest neighbours are {label}",
                    ea.line,
                    ea.label,
                    others.len()
                ));
                suspect_lines.push(ea.line);
            }
        }
        for (b, sim) in &others {
            if *sim >= opts.near_duplicate_cosine && a < *b {
                near.push(vec![ea.line, ds.examples[idx[*b]].line]);
            }
        }
    }
    if !suspects.is_empty() {
        let shown: Vec<&str> = suspects.iter().take(5).map(String::as_str).collect();
        problems.push(Problem {
            kind: "possible_mislabels".into(),
            severity: Severity::Info,
            message: format!(
                "{} rows may be mislabelled: their nearest neighbours (base model embeddings) agree on another label. {}",
                suspects.len(),
                shown.join("; ")
            ),
            fix: "Check these rows; correct the label where the neighbours are right.".into(),
            lines: suspect_lines.into_iter().map(|l| vec![l]).collect(),
        });
    }
    if !near.is_empty() {
        problems.push(Problem {
            kind: "near_duplicates".into(),
            severity: Severity::Info,
            message: format!(
                "{} pairs of different texts are near-duplicates (cosine >= {})",
                near.len(),
                opts.near_duplicate_cosine
            ),
            fix: "Near-duplicates add little; keep the more typical one, or vary the wording.".into(),
            lines: near,
        });
    }
    Ok(())
}
