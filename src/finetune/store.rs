//! What a finished run writes into its model folder: the model card, the selection and test
//! rows, and the manifest; and what it records in the registry.

use std::path::Path;

use super::manifest::{DatasetRef, Manifest, RunRecord};
use super::prepare::Prepared;
use super::{Candidate, FinetuneOptions, Outcome};
use crate::data::Example;
use crate::error::{Error, Result};
use crate::registry::{RunMetrics, Status};

/// The test rows a model was measured on, stored in its folder (maps draw them by default).
pub const HELD_OUT_FILE: &str = "test.csv";
/// The selection rows that chose the epoch, the temperature and the model.
pub const SELECTION_FILE: &str = "selection.csv";
/// A multi-label model's test and selection rows: JSON Lines with label arrays, which no label
/// name can break.
pub const HELD_OUT_JSONL: &str = "test.jsonl";
pub const SELECTION_JSONL: &str = "selection.jsonl";

/// The held-out rows in a model folder: `test.jsonl` (multi-label) or `test.csv`.
pub fn held_out_file(dir: &Path) -> std::path::PathBuf {
    let jsonl = dir.join(HELD_OUT_JSONL);
    if jsonl.exists() {
        jsonl
    } else {
        dir.join(HELD_OUT_FILE)
    }
}

pub(super) fn write_rows(path: &Path, rows: &[Example]) -> Result<()> {
    crate::util::write_atomic(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(["text", "label"])?;
        for e in rows {
            c.write_record([&e.text, &e.label])?;
        }
        c.flush()
    })
}

fn write_sets(path: &Path, rows: &[Example]) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        text: &'a str,
        labels: &'a [String],
    }
    crate::util::write_atomic(path, |w| {
        for e in rows {
            serde_json::to_writer(
                &mut *w,
                &Row {
                    text: &e.text,
                    labels: &e.labels,
                },
            )
            .map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// What the registry keeps of a run's figures: the test-row metrics of both candidates and the
/// choice, read back by the API and the dashboard.
pub(super) fn registry_metrics(o: &Outcome) -> RunMetrics {
    RunMetrics {
        baseline: o.metrics.baseline.clone(),
        finetuned: o.metrics.finetuned.clone(),
        selected: Some(o.selected),
        reason: Some(o.reason.clone()),
        rows: Some(o.rows.clone()),
    }
}

fn card(o: &FinetuneOptions, p: &Prepared, out: &Outcome) -> String {
    let what = match out.selected {
        Candidate::Finetuned => format!("Fine-tuned by attune {} from `{}`", env!("CARGO_PKG_VERSION"), o.base),
        Candidate::Base => format!(
            "The base model `{}` unchanged (attune {} found that fine-tuning did not help)",
            o.base,
            env!("CARGO_PKG_VERSION")
        ),
    };
    let (b, f) = (&out.metrics.baseline, &out.metrics.finetuned);
    format!(
        "# {}\n\n{what}, with a classifier head trained on {} rows ({} labels: {}).\n\n{}\n\n\
         Held-out test ({} rows; {}): {} {:.4} fine-tuned, {:.4} base model; macro-F1 {:.4} fine-tuned, {:.4} base.\n\n\
         Load it with `SentenceTransformer(\"<this folder>\")`.\n",
        o.name.as_deref().unwrap_or(&out.model_id),
        out.rows.train,
        p.labels.len(),
        p.labels.join(", "),
        out.reason,
        out.rows.test,
        out.rows.test_source,
        if f.multi_label.is_some() {
            "Hamming score (multi-label)"
        } else {
            "accuracy"
        },
        f.accuracy,
        b.accuracy,
        f.f1_macro,
        b.f1_macro,
    )
}

/// The model card, the held-out rows and the READY manifest.
pub(super) fn write_model_files(
    dir: &Path,
    o: &FinetuneOptions,
    p: &Prepared,
    out: &Outcome,
    base_dir: &Path,
) -> Result<()> {
    let readme = dir.join("model/README.md");
    std::fs::write(&readme, card(o, p, out)).map_err(|e| Error::io(&readme, e))?;
    if p.multi_label {
        write_sets(&dir.join(HELD_OUT_JSONL), &p.test)?;
        write_sets(&dir.join(SELECTION_JSONL), &p.select)?;
    } else {
        write_rows(&dir.join(HELD_OUT_FILE), &p.test)?;
        write_rows(&dir.join(SELECTION_FILE), &p.select)?;
    }
    let m = Manifest {
        id: out.model_id.clone(),
        status: Status::Ready,
        options: o.clone(),
        result: Some(RunRecord {
            name: o.name.clone(),
            attune_version: env!("CARGO_PKG_VERSION").into(),
            base_model: o.base.clone(),
            base_model_dir: base_dir.to_path_buf(),
            dataset: DatasetRef {
                path: o.data.clone(),
                sha256: p.dataset_sha256.clone(),
            },
            rows: out.rows.clone(),
            labels: p.labels.clone(),
            seed: o.seed(),
            recipe: out.recipe.clone(),
            selected: out.selected,
            reason: out.reason.clone(),
            selection: out.selection.clone(),
            metrics: out.metrics.clone(),
            training: out.training.clone(),
            seconds: out.seconds,
            created: chrono::Utc::now().to_rfc3339(),
        }),
    };
    m.write(dir)
}
