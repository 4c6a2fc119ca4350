//! A fine-tuned model as the registry stores it: the encoder folder (`model/`), the head
//! (`head.json`) and the run manifest (`manifest.json`). Loads by folder; classifies and embeds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::encoder::{Encoder, EncoderOptions};
use crate::error::{Error, Result};
use crate::head::LogisticHead;

/// One text's classification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Classification {
    pub input: String,
    /// The top label, or `None` when its confidence is under the abstain threshold.
    pub prediction: Option<String>,
    pub confidence: f32,
    /// Every label with its confidence, most likely first.
    pub confidences: Vec<LabelConfidence>,
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
    pub head: LogisticHead,
    /// What its manifest says of its names (the whole manifest: [`crate::finetune::Manifest`]).
    pub manifest: crate::finetune::ManifestNames,
}

impl FinetunedModel {
    /// Loads the model folder `dir` (as written by fine-tuning).
    pub fn load(dir: &Path) -> Result<Self> {
        let encoder = Encoder::load(&dir.join("model"), &EncoderOptions::default())?;
        let head = LogisticHead::load(&dir.join("head.json"))?;
        if head.dim != encoder.dim() {
            return Err(Error::folder(
                dir,
                format!(
                    "head.json expects {}-dim embeddings, the encoder gives {}",
                    head.dim,
                    encoder.dim()
                ),
            ));
        }
        let manifest = crate::finetune::ManifestNames::read(dir)?;
        Ok(FinetunedModel {
            dir: dir.to_path_buf(),
            encoder,
            head,
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
        let emb = self.encoder.embed(texts, batch_size)?;
        classify_embeddings(&self.head, texts, &emb, abstain_below)
    }
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
            let mut confidences: Vec<LabelConfidence> = head
                .labels
                .iter()
                .zip(&p)
                .map(|(l, c)| LabelConfidence {
                    label: l.clone(),
                    confidence: *c,
                })
                .collect();
            confidences.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.label.cmp(&b.label)));
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
