//! How a candidate encoder is measured, the one way every figure is made: the head fitted on
//! the training rows, its calibration (temperature, or per-label scaling and thresholds) on the
//! selection rows; metrics on selection and test rows.
//!
//! The head is not fitted again with the selection rows once they have made their choices: on
//! held-out rows that gained 0.7-0.8 points with 8 and 16 rows per label on Banking77, nothing on
//! all its rows or on atis8, and lost a row on two of the demo's three splits
//! (`bench/head_study.py`, BENCHMARKS.md "Choosing the head").

use super::{groups, ids, sets, texts, FinetuneOptions, Prepared};
use crate::data::Example;
use crate::encoder::Encoder;
use crate::error::Result;
use crate::eval::Metrics;
use crate::head::{Head, LogisticHead, MultiLabelHead};

/// A candidate encoder, measured.
pub(super) struct Measured {
    pub head: Head,
    pub select: Metrics,
    pub test: Metrics,
}

pub(super) fn measure(enc: &Encoder, p: &Prepared, o: &FinetuneOptions) -> Result<Measured> {
    let (head, select) = fit_head(enc, p, &p.train, o)?;
    let xh = enc.embed_long(&texts(&p.test), o.embed_batch_size, &o.long_text)?;
    let test = head_metrics(&head, p, &p.test, &xh)?;
    Ok(Measured { head, select, test })
}

/// The metrics of `head` on labelled `rows` with embeddings `x`.
fn head_metrics(head: &Head, p: &Prepared, rows: &[Example], x: &[Vec<f32>]) -> Result<Metrics> {
    let probs = head.predict_proba(x)?;
    match head {
        Head::Single(_) => Metrics::compute(&p.labels, &ids(rows, &p.labels), &probs, x),
        Head::Multi(h) => {
            let sil = crate::eval::silhouette(x, &groups(rows, &p.labels))?;
            crate::eval::compute_multi(&p.labels, &sets(rows, &p.labels), &probs, &h.thresholds, sil)
        }
    }
}

/// The head fitted on `train`, calibrated on the selection rows, and its selection-row metrics
/// (no test rows are touched).
pub(super) fn fit_head(enc: &Encoder, p: &Prepared, train: &[Example], o: &FinetuneOptions) -> Result<(Head, Metrics)> {
    let (bs, lt) = (o.embed_batch_size, &o.long_text);
    let xt = enc.embed_long(&texts(train), bs, lt)?;
    let xs = enc.embed_long(&texts(&p.select), bs, lt)?;
    let head = if p.multi_label {
        let mut h = MultiLabelHead::fit(&xt, &sets(train, &p.labels), &p.labels, &o.head)?;
        h.calibrate(&xs, &sets(&p.select, &p.labels))?;
        Head::Multi(h)
    } else {
        let mut h = LogisticHead::fit(&xt, &ids(train, &p.labels), &p.labels, &o.head)?;
        h.calibrate(&xs, &ids(&p.select, &p.labels))?;
        Head::Single(h)
    };
    let m = head_metrics(&head, p, &p.select, &xs)?;
    Ok((head, m))
}
