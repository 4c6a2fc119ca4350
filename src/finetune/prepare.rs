//! The rows of a run, in three disjoint parts: training rows (the encoder and the head learn
//! from them), selection rows (every decision: the epoch, early stopping, the head's
//! temperature, base model or fine-tuned) and test rows, which no decision sees and from which
//! every reported figure comes.

use serde::{Deserialize, Serialize};

use super::FinetuneOptions;
use crate::data::review::{review, usable, ModelView, ReviewOptions, Severity};
use crate::data::{stratified_split, Dataset, Example, LoadOptions};
use crate::error::{Error, Result};

/// Rows a held-out part takes from a large file at most: 1,000 rows measure accuracy to about
/// a point, and every row more is a row less to train on.
const MAX_HELD_OUT_ROWS: f64 = 1000.0;

/// The prepared data of a run.
pub(crate) struct Prepared {
    pub dataset_sha256: String,
    /// Rows carry label sets.
    pub multi_label: bool,
    pub labels: Vec<String>,
    pub train: Vec<Example>,
    pub select: Vec<Example>,
    pub test: Vec<Example>,
    pub rows: RowsUsed,
}

/// Which rows each figure comes from, as the run reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowsUsed {
    pub train: usize,
    pub selection: usize,
    pub test: usize,
    /// Where the selection rows came from, in words.
    pub selection_source: String,
    /// Where the test rows came from, in words.
    pub test_source: String,
}

pub(crate) fn load_opts(o: &FinetuneOptions) -> LoadOptions {
    LoadOptions {
        text_column: o.text_column.clone(),
        label_column: o.label_column.clone(),
        label_separator: o.label_separator.clone(),
        separator_may_be_absent: false,
    }
}

/// The share of each label a held-out part takes: `fraction`, less on large files.
fn share(fraction: f64, rows: usize) -> f64 {
    fraction.min(MAX_HELD_OUT_ROWS / rows.max(1) as f64)
}

fn reviewed_rows(o: &FinetuneOptions) -> Result<(Dataset, Vec<Example>)> {
    let ds = Dataset::load(&o.data, &load_opts(o))?;
    let ropts = ReviewOptions {
        min_per_label: o.min_per_label,
        ..Default::default()
    };
    let rev = review(&ds, &ropts, ModelView::default())?;
    if rev.blocking {
        let why: Vec<String> = rev
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Blocking)
            .map(|p| format!("{}. {}", p.message.trim_end_matches('.'), p.fix))
            .collect();
        return Err(Error::Dataset {
            path: o.data.clone(),
            reason: format!("cannot train on this file: {}", why.join(" ")),
        });
    }
    let rows = usable(&ds, o.min_per_label);
    Ok((ds, rows))
}

/// Rows of a separate file, which may only use labels the training data has.
fn side_file(o: &FinetuneOptions, path: &std::path::Path, labels: &[String], multi: bool) -> Result<Vec<Example>> {
    let opts = LoadOptions {
        separator_may_be_absent: true,
        ..load_opts(o)
    };
    let vd = Dataset::load(path, &opts)?;
    if vd.multi_label != multi {
        let kind = |m: bool| if m { "multi-label" } else { "single-label" };
        return Err(Error::Dataset {
            path: path.into(),
            reason: format!(
                "is {} but the training data is {}: give both files the same kind of labels (label arrays in JSONL, or one --label-separator for both CSV files)",
                kind(vd.multi_label),
                kind(multi)
            ),
        });
    }
    let unknown: Vec<String> = vd.label_counts().into_keys().filter(|l| !labels.contains(l)).collect();
    if !unknown.is_empty() {
        return Err(Error::Dataset {
            path: path.into(),
            reason: format!(
                "labels not in the training data (or dropped there for too few rows): {}",
                unknown.join(", ")
            ),
        });
    }
    let rows: Vec<Example> = vd.examples.into_iter().filter(|e| !e.text.is_empty()).collect();
    if rows.is_empty() {
        return Err(Error::Dataset {
            path: path.into(),
            reason: "has no usable rows".into(),
        });
    }
    Ok(rows)
}

/// A multi-label split places a row by its rarest label, so a label that is never a row's
/// rarest can lose all its training rows to the selection rows: one comes back.
fn every_label_trains(
    mut train: Vec<Example>,
    mut select: Vec<Example>,
    labels: &[String],
) -> (Vec<Example>, Vec<Example>) {
    for l in labels {
        if !train.iter().any(|e| e.labels.contains(l)) {
            if let Some(i) = select.iter().position(|e| e.labels.contains(l)) {
                train.push(select.swap_remove(i));
            }
        }
    }
    (train, select)
}

fn pick(rows: &[Example], idx: &[usize]) -> Vec<Example> {
    idx.iter().map(|i| rows[*i].clone()).collect()
}

pub(crate) fn prepare(o: &FinetuneOptions) -> Result<Prepared> {
    let (ds, rows) = reviewed_rows(o)?;
    let multi = ds.multi_label;
    let mut labels: Vec<String> = rows.iter().flat_map(|e| e.labels.iter().cloned()).collect();
    labels.sort();
    labels.dedup();
    let n = rows.len();
    let seed = o.seed();
    // The test rows come off first, so the selection split never sees them.
    let (rest, test, test_source) = match &o.test {
        Some(p) => (
            rows,
            side_file(o, p, &labels, multi)?,
            format!("the file {}", p.display()),
        ),
        None => {
            let f = share(o.test_fraction, n);
            let s = stratified_split(&rows, f, seed);
            let source = format!(
                "{:.0} % of each label of {}, held out before training: no decision saw them",
                f * 100.0,
                o.data.display()
            );
            (pick(&rows, &s.train), pick(&rows, &s.valid), source)
        }
    };
    let (train, select, selection_source) = match &o.valid {
        Some(p) => (
            rest,
            side_file(o, p, &labels, multi)?,
            format!("the file {}", p.display()),
        ),
        None => {
            // Of what is left, so the share of the whole file is the one asked for.
            let whole = share(o.valid_fraction, n);
            let f = (whole * n as f64 / rest.len().max(1) as f64).min(0.5);
            let s = stratified_split(&rest, f, seed.wrapping_add(1));
            let source = format!(
                "{:.0} % of {}, stratified by label; they chose the epoch, the head's {} and the model",
                whole * 100.0,
                o.data.display(),
                if multi {
                    "per-label calibration and thresholds"
                } else {
                    "temperature"
                },
            );
            (pick(&rest, &s.train), pick(&rest, &s.valid), source)
        }
    };
    let (train, select) = if multi {
        every_label_trains(train, select, &labels)
    } else {
        (train, select)
    };
    if let Some(l) = labels.iter().find(|l| !train.iter().any(|e| e.labels.contains(l))) {
        return Err(Error::Dataset {
            path: o.data.clone(),
            reason: format!(
                "the label {l:?} has no training row once the selection and test rows are held out: add rows of it"
            ),
        });
    }
    if select.is_empty() || test.is_empty() {
        return Err(Error::Dataset {
            path: o.data.clone(),
            reason: "too few rows to hold out selection and test rows; add rows or pass --valid FILE and --test FILE"
                .into(),
        });
    }
    let rows = RowsUsed {
        train: train.len(),
        selection: select.len(),
        test: test.len(),
        selection_source,
        test_source,
    };
    Ok(Prepared {
        dataset_sha256: ds.sha256,
        multi_label: multi,
        labels,
        train,
        select,
        test,
        rows,
    })
}
