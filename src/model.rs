//! A fine-tuned model as the registry stores it: the encoder folder (`model/`), the head
//! (`head.json`) and the run manifest (`manifest.json`). Loads by folder; classifies and embeds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::encoder::{Encoder, EncoderOptions, LongText, Precision};
use crate::error::{Error, Result};
use crate::eval::Metrics;
use crate::head::{Head, LogisticHead, MultiLabelHead};

/// One text's classification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Classification {
    pub input: String,
    /// The top label, or `None` when its confidence is under the abstain threshold.
    pub prediction: Option<String>,
    pub confidence: f32,
    /// Every label with its confidence, most likely first.
    pub confidences: Vec<LabelConfidence>,
    /// A multi-label model's answer: every label whose confidence reaches its threshold, most
    /// likely first (possibly none). Absent for a single-label model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<LabelConfidence>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabelConfidence {
    pub label: String,
    pub confidence: f32,
}

/// A loaded fine-tuned model.
#[derive(Debug)]
pub struct FinetunedModel {
    pub dir: PathBuf,
    pub encoder: Encoder,
    pub head: Head,
    /// How the run that made it embedded long texts: the default for its inputs.
    pub long_text: LongText,
    /// What its manifest says of its names (the whole manifest: [`crate::finetune::Manifest`]).
    pub manifest: crate::finetune::ManifestNames,
}

impl FinetunedModel {
    /// Loads the model folder `dir` (as written by fine-tuning).
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, Precision::F32)
    }

    /// Loads the model folder `dir`, its encoder computing in `precision`.
    pub fn load_with(dir: &Path, precision: Precision) -> Result<Self> {
        let opts = EncoderOptions::default().with_precision(precision).frozen();
        let encoder = Encoder::load(&dir.join("model"), &opts)?;
        let head = Head::load(&dir.join("head.json"))?;
        if head.dim() != encoder.dim() {
            return Err(Error::folder(
                dir,
                format!(
                    "head.json expects {}-dim embeddings, the encoder gives {}",
                    head.dim(),
                    encoder.dim()
                ),
            ));
        }
        let manifest = crate::finetune::ManifestNames::read(dir)?;
        Ok(FinetunedModel {
            dir: dir.to_path_buf(),
            encoder,
            head,
            long_text: trained_long_text(dir),
            manifest,
        })
    }

    /// Classifies `texts`; with `abstain_below`, a top confidence under it gives no prediction.
    pub fn classify(
        &self,
        texts: &[&str],
        abstain_below: Option<f32>,
        batch_size: usize,
    ) -> Result<Vec<Classification>> {
        self.classify_long(texts, abstain_below, batch_size, &self.long_text)
    }

    /// As [`FinetunedModel::classify`], long texts embedded as `long` says.
    pub fn classify_long(
        &self,
        texts: &[&str],
        abstain_below: Option<f32>,
        batch_size: usize,
        long: &LongText,
    ) -> Result<Vec<Classification>> {
        let emb = self.encoder.embed_long(texts, batch_size, long)?;
        classify_with(&self.head, texts, &emb, abstain_below)
    }

    /// The model's metrics on a labelled file; its labels must be ones the model knows.
    pub fn evaluate(&self, ds: &Dataset, batch_size: usize, long: &LongText) -> Result<Metrics> {
        self.check_labels(ds)?;
        let texts = labelled_texts(ds);
        let emb = self.encoder.embed_long(&texts, batch_size, long)?;
        self.metrics(ds, &emb)
    }

    /// What computing in `precision` costs against f32 on a labelled file: the metrics of both
    /// on the same rows, how often the answers agree and how close the embeddings stay. The
    /// model is left computing in `precision`.
    pub fn evaluate_precision(
        &mut self,
        ds: &Dataset,
        batch_size: usize,
        long: &LongText,
        precision: Precision,
    ) -> Result<PrecisionCost> {
        self.check_labels(ds)?;
        let texts = labelled_texts(ds);
        self.encoder.set_precision(Precision::F32)?;
        let full = self.encoder.embed_long(&texts, batch_size, long)?;
        self.encoder.set_precision(precision)?;
        let low = self.encoder.embed_long(&texts, batch_size, long)?;
        let answers = |emb: &[Vec<f32>]| classify_with(&self.head, &texts, emb, None);
        let (a, b) = (answers(&full)?, answers(&low)?);
        let same = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| {
                x.prediction == y.prediction && x.labels.as_deref().map(names) == y.labels.as_deref().map(names)
            })
            .count();
        let cos: Vec<f64> = full
            .iter()
            .zip(&low)
            .map(|(x, y)| crate::encoder::cosine(x, y) as f64)
            .collect();
        Ok(PrecisionCost {
            dtype: precision,
            f32: self.metrics(ds, &full)?,
            metrics: self.metrics(ds, &low)?,
            agreement: same as f64 / texts.len().max(1) as f64,
            mean_cosine: cos.iter().sum::<f64>() / cos.len().max(1) as f64,
            min_cosine: cos.iter().copied().fold(1.0, f64::min),
        })
    }

    fn check_labels(&self, ds: &Dataset) -> Result<()> {
        let labels = self.head.labels();
        if ds.multi_label != self.head.is_multi_label() {
            let kind = |m: bool| if m { "multi-label" } else { "single-label" };
            return Err(Error::Dataset {
                path: ds.path.clone(),
                reason: format!(
                    "is {} data but the model is {}: read the file {}",
                    kind(ds.multi_label),
                    kind(self.head.is_multi_label()),
                    if self.head.is_multi_label() {
                        "with --label-separator (CSV) or with label arrays (JSONL)"
                    } else {
                        "without --label-separator"
                    }
                ),
            });
        }
        let unknown: Vec<String> = ds.label_counts().into_keys().filter(|l| !labels.contains(l)).collect();
        if !unknown.is_empty() {
            return Err(Error::Dataset {
                path: ds.path.clone(),
                reason: format!(
                    "labels the model does not know: {} (it knows {})",
                    crate::util::excerpt_list(&unknown, 20, 60),
                    crate::util::excerpt_list(labels, 20, 60)
                ),
            });
        }
        Ok(())
    }

    /// Metrics of the labelled rows of `ds` from their embeddings.
    fn metrics(&self, ds: &Dataset, emb: &[Vec<f32>]) -> Result<Metrics> {
        let labels = self.head.labels();
        let rows: Vec<_> = ds.examples.iter().filter(|e| !e.text.is_empty()).collect();
        let probs = self.head.predict_proba(emb)?;
        let id = |l: &String| labels.iter().position(|x| x == l).unwrap_or(0);
        match &self.head {
            Head::Single(_) => {
                let truth: Vec<usize> = rows.iter().map(|e| id(&e.label)).collect();
                Metrics::compute(labels, &truth, &probs, emb)
            }
            Head::Multi(h) => {
                let truth: Vec<Vec<usize>> = rows.iter().map(|e| e.labels.iter().map(id).collect()).collect();
                let owned: Vec<crate::data::Example> = rows.iter().map(|e| (*e).clone()).collect();
                let sil = crate::eval::silhouette(emb, &crate::finetune::groups(&owned, labels))?;
                crate::eval::compute_multi(labels, &truth, &probs, &h.thresholds, sil)
            }
        }
    }
}

/// The texts of the rows [`FinetunedModel::evaluate`] scores.
fn labelled_texts(ds: &Dataset) -> Vec<&str> {
    ds.examples
        .iter()
        .filter(|e| !e.text.is_empty())
        .map(|e| e.text.as_str())
        .collect()
}

fn names(v: &[LabelConfidence]) -> Vec<&str> {
    v.iter().map(|c| c.label.as_str()).collect()
}

/// What a lower precision changes against f32, measured on one labelled file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrecisionCost {
    pub dtype: Precision,
    /// The model in f32 on the same rows.
    pub f32: Metrics,
    /// The model in `dtype`, at the top level as `eval --json` prints metrics.
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Share of rows whose answer (top label; for multi-label, the label set) is the same.
    pub agreement: f64,
    pub mean_cosine: f64,
    pub min_cosine: f64,
}

/// How the run that made the model in `dir` embedded long texts (truncation for a folder without
/// a readable manifest).
pub fn trained_long_text(dir: &Path) -> LongText {
    crate::finetune::Manifest::read(dir)
        .map(|m| m.options.long_text)
        .unwrap_or_default()
}

/// Classifies precomputed embeddings with either kind of head.
pub fn classify_with(
    head: &Head,
    texts: &[&str],
    emb: &[Vec<f32>],
    abstain_below: Option<f32>,
) -> Result<Vec<Classification>> {
    match head {
        Head::Single(h) => classify_embeddings(h, texts, emb, abstain_below),
        Head::Multi(h) => classify_multi(h, texts, emb),
    }
}

/// Every label over its threshold; the most confident of them is the `prediction`.
fn classify_multi(head: &MultiLabelHead, texts: &[&str], emb: &[Vec<f32>]) -> Result<Vec<Classification>> {
    let probs = head.predict_proba(emb)?;
    Ok(texts
        .iter()
        .zip(probs)
        .map(|(t, p)| {
            let over: Vec<usize> = (0..p.len()).filter(|&j| p[j] >= head.thresholds[j]).collect();
            let labels = ranked(over.iter().map(|&j| (&head.labels[j], p[j])));
            Classification {
                input: t.to_string(),
                prediction: labels.first().map(|c| c.label.clone()),
                confidence: labels.first().map_or(0.0, |c| c.confidence),
                confidences: ranked(head.labels.iter().zip(p.iter().copied())),
                labels: Some(labels),
            }
        })
        .collect())
}

/// Labels with their confidences, most likely first (ties by name).
fn ranked<'a>(pairs: impl Iterator<Item = (&'a String, f32)>) -> Vec<LabelConfidence> {
    let mut v: Vec<LabelConfidence> = pairs
        .map(|(l, c)| LabelConfidence {
            label: l.clone(),
            confidence: c,
        })
        .collect();
    v.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.label.cmp(&b.label)));
    v
}

/// Classifies precomputed embeddings with `head`.
pub fn classify_embeddings(
    head: &LogisticHead,
    texts: &[&str],
    emb: &[Vec<f32>],
    abstain_below: Option<f32>,
) -> Result<Vec<Classification>> {
    let probs = head.predict_proba(emb)?;
    Ok(texts
        .iter()
        .zip(probs)
        .map(|(t, p)| {
            let confidences = ranked(head.labels.iter().zip(p.iter().copied()));
            let top = confidences[0].clone();
            let prediction = match abstain_below {
                Some(th) if top.confidence < th => None,
                _ => Some(top.label),
            };
            Classification {
                input: t.to_string(),
                prediction,
                confidence: top.confidence,
                confidences,
                labels: None,
            }
        })
        .collect())
}

/// What a model name points to.
#[derive(Debug, Clone)]
pub enum Located {
    /// A fine-tuned model folder (encoder, head, manifest), with its registry ID when it has one.
    Finetuned { dir: PathBuf, id: Option<String> },
    /// A plain encoder folder (a base model).
    Encoder(crate::source::ResolvedModel),
}

impl Located {
    /// The encoder folder either way.
    pub fn encoder_dir(&self) -> PathBuf {
        match self {
            Located::Finetuned { dir, .. } => dir.join("model"),
            Located::Encoder(r) => r.dir.clone(),
        }
    }
}

/// Finds a model by registry ID or nickname, fine-tuned model folder, encoder folder or Hub id.
pub fn locate(
    spec: &str,
    registry: &crate::registry::Registry,
    sources: &crate::source::SourceOptions,
) -> Result<Located> {
    if let Some(rec) = registry.find(spec)? {
        return Ok(Located::Finetuned {
            dir: rec.path,
            id: Some(rec.id),
        });
    }
    let p = Path::new(spec);
    if p.join("head.json").exists() && p.join("model").is_dir() {
        return Ok(Located::Finetuned {
            dir: p.to_path_buf(),
            id: None,
        });
    }
    if spec.ends_with("-ft") && !p.exists() {
        return Err(Error::NotInRegistry { id: spec.into() });
    }
    Ok(Located::Encoder(crate::source::resolve_model(spec, sources)?))
}
