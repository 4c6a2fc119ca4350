//! The manifest a run keeps in its model folder (`manifest.json`): while it trains, what it was
//! asked to do (so `--resume` can rebuild it); once READY, everything it did and measured. Typed
//! here, once, for every reader and writer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Candidate, FinetuneOptions, MetricsPair, RowsUsed, Selection};
use crate::error::Result;
use crate::registry::Status;
use crate::train::{TrainConfig, TrainReport};

pub const MANIFEST_FILE: &str = "manifest.json";

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub status: Status,
    pub options: FinetuneOptions,
    /// What the run did and measured, once it is READY.
    #[serde(flatten)]
    pub result: Option<RunRecord>,
}

/// The data a run trained on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetRef {
    pub path: PathBuf,
    pub sha256: String,
}

/// What a finished run did and measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub name: Option<String>,
    pub attune_version: String,
    pub base_model: String,
    pub base_model_dir: PathBuf,
    pub dataset: DatasetRef,
    pub rows: RowsUsed,
    pub labels: Vec<String>,
    pub seed: u64,
    pub recipe: TrainConfig,
    pub selected: Candidate,
    pub reason: String,
    pub selection: Selection,
    pub metrics: MetricsPair,
    pub training: TrainReport,
    pub seconds: f64,
    pub created: String,
}

/// What every manifest says about its model, whichever attune version wrote it: the readers
/// that only need a model's names use this, so older folders keep working.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ManifestNames {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub base_model: Option<String>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest> {
        crate::encoder::config::read_json(&dir.join(MANIFEST_FILE))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::util::write_atomic(&dir.join(MANIFEST_FILE), |w| {
            serde_json::to_writer_pretty(w, self).map_err(std::io::Error::other)
        })
    }
}

impl ManifestNames {
    pub fn read(dir: &Path) -> Result<ManifestNames> {
        crate::encoder::config::read_json(&dir.join(MANIFEST_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_training_manifest_reads_back_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest {
            id: "x-ft".into(),
            status: Status::Finetuning,
            options: FinetuneOptions::default(),
            result: None,
        };
        m.write(dir.path()).unwrap();
        let back = Manifest::read(dir.path()).unwrap();
        assert_eq!((back.id.as_str(), back.status), ("x-ft", Status::Finetuning));
        assert!(back.result.is_none());
        let names = ManifestNames::read(dir.path()).unwrap();
        assert_eq!(names.base_model, None);
    }

    /// A manifest written before the C = 10 head saved a first step of 0.1 for the head; read
    /// back, that would under-fit this version's head. The head settings are this version's.
    #[test]
    fn saved_head_settings_are_not_read_back() {
        let mut o = FinetuneOptions::default();
        o.head.learning_rate = Some(0.5);
        let json = serde_json::to_value(&o).unwrap();
        // What earlier versions need to read a job: a numeric first step.
        assert_eq!(json["head"]["learning_rate"], serde_json::json!(0.1));
        assert_eq!(json["head"]["l2"], serde_json::Value::Null);
        let back: FinetuneOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back.head.learning_rate, None);
        assert_eq!(back.head.l2, None);
        // A manifest without head settings reads too.
        let mut json = serde_json::to_value(&o).unwrap();
        json.as_object_mut().unwrap().remove("head");
        assert!(serde_json::from_value::<FinetuneOptions>(json).is_ok());
    }
}
