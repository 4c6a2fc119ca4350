//! The model registry under `ATTUNE_HOME`: an SQLite table of models and one folder per model.
//!
//! A run is inserted as `FINETUNING` (or `QUEUED` first, by the HTTP API) with its folder at `models/<id>.partial`; only when that
//! folder is complete is it renamed to `models/<id>` and the row set to `READY` in one
//! transaction. Listing shows `READY` models, so a crash or kill mid-training never lists a half
//! model, and the partial folder holds the checkpoints that `--resume` continues from.
//!
//! A run in training is owned: its row holds the owner's id and a lease that the owner renews
//! (see [`lease`]); nobody else touches a run whose lease is live.

mod datasets;
mod lease;

pub use datasets::DatasetRecord;
pub use lease::{lease_seconds, owner_id, Heartbeat, Renewal};

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Status of a registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Waiting for the job runner (the HTTP API's queue).
    Queued,
    Finetuning,
    Ready,
    Failed,
    /// Stopped on request, with its checkpoint; `--resume` continues it.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "QUEUED",
            Status::Finetuning => "FINETUNING",
            Status::Ready => "READY",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "QUEUED" => Some(Status::Queued),
            "FINETUNING" | "TRAINING" => Some(Status::Finetuning),
            "READY" => Some(Status::Ready),
            "FAILED" => Some(Status::Failed),
            "CANCELLED" => Some(Status::Cancelled),
            _ => None,
        }
    }
}

/// A run's progress as it trains: the latest step and the loss curve so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    pub step: usize,
    pub total: usize,
    pub epoch: usize,
    pub loss: f64,
    pub eta_s: f64,
    /// `[step, loss]` pairs, thinned to a bounded number of points on long runs.
    pub losses: Vec<(usize, f64)>,
}

/// What the registry keeps of a finished run's figures: the test-row metrics of both candidates
/// and the choice, as the API, the dashboard and `models list` show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub baseline: crate::eval::Metrics,
    pub finetuned: crate::eval::Metrics,
    /// Absent in records written before the selection step existed (the fine-tuned model).
    #[serde(default)]
    pub selected: Option<crate::finetune::Candidate>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub rows: Option<crate::finetune::RowsUsed>,
}

impl RunMetrics {
    /// The figures of the model the run kept.
    pub fn kept(&self) -> &crate::eval::Metrics {
        match self.selected {
            Some(crate::finetune::Candidate::Base) => &self.baseline,
            _ => &self.finetuned,
        }
    }
}

/// One model in the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRecord {
    pub id: String,
    pub name: Option<String>,
    pub base_model: String,
    pub dataset_sha256: String,
    pub params: serde_json::Value,
    /// Once READY; records in a shape this version cannot read show as none.
    pub metrics: Option<RunMetrics>,
    pub created: String,
    pub status: Status,
    pub error: Option<String>,
    /// The latest training progress, while training.
    pub progress: Option<JobProgress>,
    /// The model's folder (for a model still training, its partial folder).
    pub path: PathBuf,
    /// The process that trains the run, while it does.
    pub owner: Option<String>,
    /// When the owner's lease ends unless renewed (milliseconds since the Unix epoch).
    pub lease_expires: Option<i64>,
    /// A cancellation was asked for; the owner stops at its next step.
    pub cancel_requested: bool,
}

/// The registry.
pub struct Registry {
    home: PathBuf,
    conn: Connection,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("home", &self.home).finish()
    }
}

/// `ATTUNE_HOME`, else the platform data folder + `attune`.
pub fn default_home() -> PathBuf {
    std::env::var_os("ATTUNE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("attune"))
}

fn db_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::Registry {
        path: path.into(),
        reason: e.to_string(),
    }
}

impl Registry {
    /// Opens (creating if needed) the registry at `home`.
    pub fn open(home: &Path) -> Result<Self> {
        let models = home.join("models");
        std::fs::create_dir_all(&models).map_err(|e| Error::io(&models, e))?;
        let db = home.join("registry.sqlite");
        let conn = Connection::open(&db).map_err(|e| db_err(&db, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| db_err(&db, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS models (
                 id TEXT PRIMARY KEY,
                 name TEXT,
                 base_model TEXT NOT NULL,
                 dataset_sha256 TEXT NOT NULL,
                 params TEXT NOT NULL,
                 metrics TEXT NOT NULL DEFAULT '{}',
                 created TEXT NOT NULL,
                 status TEXT NOT NULL,
                 error TEXT,
                 progress TEXT
             );",
        )
        .map_err(|e| db_err(&db, e))?;
        // Registries made before a column existed get it now.
        for (column, ty) in [
            ("progress", "TEXT"),
            ("owner", "TEXT"),
            ("lease_expires", "INTEGER"),
            ("cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
        ] {
            if conn.prepare(&format!("SELECT {column} FROM models LIMIT 0")).is_err() {
                conn.execute_batch(&format!("ALTER TABLE models ADD COLUMN {column} {ty};"))
                    .map_err(|e| db_err(&db, e))?;
            }
        }
        Ok(Registry {
            home: home.to_path_buf(),
            conn,
        })
    }

    pub fn open_default() -> Result<Self> {
        Self::open(&default_home())
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    fn db_path(&self) -> PathBuf {
        self.home.join("registry.sqlite")
    }

    /// The folder of a finished model.
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.home.join("models").join(id)
    }

    /// The folder of a model still training.
    pub fn partial_dir(&self, id: &str) -> PathBuf {
        self.home.join("models").join(format!("{id}.partial"))
    }

    /// Starts a run owned by `owner`: a new `<uuid>-ft` id, a `FINETUNING` row with a live
    /// lease, and an empty partial folder.
    pub fn begin(
        &self,
        name: Option<&str>,
        base: &str,
        sha256: &str,
        params: &serde_json::Value,
        owner: &str,
    ) -> Result<String> {
        self.insert(name, base, sha256, params, Some(owner))
    }

    /// Queues a run for the job runner: a `QUEUED` row with a new id and no owner.
    pub fn enqueue(&self, name: Option<&str>, base: &str, sha256: &str, params: &serde_json::Value) -> Result<String> {
        self.insert(name, base, sha256, params, None)
    }

    fn insert(
        &self,
        name: Option<&str>,
        base: &str,
        sha256: &str,
        params: &serde_json::Value,
        owner: Option<&str>,
    ) -> Result<String> {
        let id = format!("{}-ft", uuid::Uuid::new_v4());
        let dir = self.partial_dir(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let status = if owner.is_some() {
            Status::Finetuning
        } else {
            Status::Queued
        };
        let expires = owner.map(|_| lease::expiry());
        self.conn
            .execute(
                "INSERT INTO models (id, name, base_model, dataset_sha256, params, created, status, owner, lease_expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![id, name, base, sha256, params.to_string(), chrono::Utc::now().to_rfc3339(), status.as_str(), owner, expires],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(id)
    }

    /// The oldest queued run, if any.
    pub fn next_queued(&self) -> Result<Option<ModelRecord>> {
        Ok(self.list(true)?.into_iter().rev().find(|r| r.status == Status::Queued))
    }

    /// Records a run's progress, as the API shows it.
    pub fn set_progress(&self, id: &str, progress: &JobProgress) -> Result<()> {
        let text = serde_json::to_string(progress).map_err(|e| Error::Registry {
            path: self.db_path(),
            reason: e.to_string(),
        })?;
        self.conn
            .execute("UPDATE models SET progress = ?2 WHERE id = ?1", params![id, text])
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(())
    }

    /// Finishes a run `owner` holds: the partial folder (complete by now) becomes the model
    /// folder and the row `READY` with its metrics. A run whose lease was lost is left alone.
    pub fn complete(&mut self, id: &str, owner: &str, metrics: &RunMetrics) -> Result<PathBuf> {
        let from = self.partial_dir(id);
        let to = self.model_dir(id);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db_err(&self.home, e))?;
        let held: Option<String> = tx
            .query_row("SELECT owner FROM models WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| db_err(&self.home, e))?
            .flatten();
        if held.as_deref() != Some(owner) {
            return Err(Error::Leased {
                id: id.into(),
                owner: held.unwrap_or_else(|| "nobody".into()),
            });
        }
        if to.exists() {
            std::fs::remove_dir_all(&to).map_err(|e| Error::io(&to, e))?;
        }
        // Checkpoints are only for resuming; the finished model does not need them.
        let ckpt = from.join("checkpoints");
        if ckpt.exists() {
            std::fs::remove_dir_all(&ckpt).map_err(|e| Error::io(&ckpt, e))?;
        }
        std::fs::rename(&from, &to).map_err(|e| Error::io(&from, e))?;
        // Fault injection for the crash tests: die between the folder's rename and the row's
        // update, the one moment the two disagree.
        if std::env::var_os("ATTUNE_FAULT_ABORT_IN_COMPLETE").is_some() {
            std::process::abort();
        }
        tx.execute(
            "UPDATE models SET status = 'READY', metrics = ?2, error = NULL, owner = NULL, lease_expires = NULL WHERE id = ?1",
            params![id, serde_json::to_string(metrics).unwrap_or_default()],
        )
        .map_err(|e| db_err(&self.home, e))?;
        tx.commit().map_err(|e| db_err(&self.home, e))?;
        Ok(to)
    }

    /// Marks a run failed, keeping its partial folder so it can be resumed. Only its owner (or
    /// anyone, for a run nobody owns, such as a queued one) may.
    pub fn fail(&self, id: &str, owner: Option<&str>, reason: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE models SET status = 'FAILED', error = ?2, owner = NULL, lease_expires = NULL
                 WHERE id = ?1 AND status != 'READY' AND (owner IS NULL OR owner = ?3)",
                params![id, reason, owner],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(())
    }

    fn row(&self, r: &rusqlite::Row) -> rusqlite::Result<ModelRecord> {
        let id: String = r.get(0)?;
        let status: String = r.get(7)?;
        let status = Status::parse(&status).unwrap_or(Status::Failed);
        let path = if status == Status::Ready {
            self.model_dir(&id)
        } else {
            self.partial_dir(&id)
        };
        let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
        let progress: Option<String> = r.get(9)?;
        Ok(ModelRecord {
            name: r.get(1)?,
            base_model: r.get(2)?,
            dataset_sha256: r.get(3)?,
            params: json(r.get(4)?),
            metrics: serde_json::from_str(&r.get::<_, String>(5)?).ok(),
            created: r.get(6)?,
            status,
            error: r.get(8)?,
            // A record an older version wrote in another shape reads as no progress.
            progress: progress.and_then(|p| serde_json::from_str(&p).ok()),
            path,
            owner: r.get(10)?,
            lease_expires: r.get(11)?,
            cancel_requested: r.get::<_, i64>(12)? != 0,
            id,
        })
    }

    const COLUMNS: &'static str =
        "id, name, base_model, dataset_sha256, params, metrics, created, status, error, progress, owner, lease_expires, cancel_requested";

    /// Models, newest first; only `READY` ones unless `all`.
    pub fn list(&self, all: bool) -> Result<Vec<ModelRecord>> {
        let sql = format!(
            "SELECT {} FROM models {} ORDER BY created DESC",
            Self::COLUMNS,
            if all { "" } else { "WHERE status = 'READY'" }
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| db_err(&self.db_path(), e))?;
        let rows = stmt
            .query_map([], |r| self.row(r))
            .map_err(|e| db_err(&self.db_path(), e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(rows)
    }

    /// The entry with this id, whatever its status.
    pub fn get_any(&self, id: &str) -> Result<Option<ModelRecord>> {
        let sql = format!("SELECT {} FROM models WHERE id = ?1", Self::COLUMNS);
        self.conn
            .query_row(&sql, [id], |r| self.row(r))
            .optional()
            .map_err(|e| db_err(&self.db_path(), e))
    }

    /// A ready model by id or nickname. `Ok(None)` when nothing matches; an error when a
    /// nickname is ambiguous or the entry is damaged.
    pub fn find(&self, spec: &str) -> Result<Option<ModelRecord>> {
        if let Some(r) = self.get_any(spec)? {
            if r.status != Status::Ready {
                return Err(Error::ModelState {
                    id: r.id.clone(),
                    reason: format!(
                        "is {:?}{}; resume it with `attune finetune --resume {}` or remove it with `attune models rm {}`",
                        r.status,
                        r.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
                        r.id,
                        r.id
                    ),
                });
            }
            self.check(&r)?;
            return Ok(Some(r));
        }
        let named: Vec<ModelRecord> = self
            .list(false)?
            .into_iter()
            .filter(|r| r.name.as_deref() == Some(spec))
            .collect();
        match named.len() {
            0 => Ok(None),
            1 => {
                self.check(&named[0])?;
                Ok(named.into_iter().next())
            }
            _ => Err(Error::InvalidArgument(format!(
                "nickname {spec:?} names {} models ({}); use an ID",
                named.len(),
                named.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// A ready model's folder must hold the encoder and the head.
    fn check(&self, r: &ModelRecord) -> Result<()> {
        for f in [
            "model/config.json",
            "model/model.safetensors",
            "head.json",
            "manifest.json",
        ] {
            if !r.path.join(f).exists() {
                return Err(Error::ModelState {
                    id: r.id.clone(),
                    reason: format!(
                        "its folder {} is damaged ({f} is missing); remove it with `attune models rm {}`",
                        r.path.display(),
                        r.id
                    ),
                });
            }
        }
        Ok(())
    }

    /// Removes a model: its row and its folders. A run that a live process trains is not
    /// removed ([`Error::Leased`]): cancel it first.
    pub fn remove(&self, id: &str) -> Result<ModelRecord> {
        let r = self
            .get_any(id)?
            .ok_or_else(|| Error::NotInRegistry { id: id.into() })?;
        let n = self
            .conn
            .execute(
                "DELETE FROM models WHERE id = ?1 AND NOT (status = 'FINETUNING' AND COALESCE(lease_expires, 0) > ?2)",
                params![id, lease::now_ms()],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        if n == 0 {
            return Err(Error::Leased {
                id: id.into(),
                owner: r.owner.clone().unwrap_or_default(),
            });
        }
        for d in [self.model_dir(id), self.partial_dir(id)] {
            if d.exists() {
                std::fs::remove_dir_all(&d).map_err(|e| Error::io(&d, e))?;
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_models_are_listed() {
        let home = tempfile::tempdir().unwrap();
        let mut reg = Registry::open(home.path()).unwrap();
        let id = reg
            .begin(Some("first"), "base", "abc", &serde_json::json!({"epochs": 1}), "me")
            .unwrap();
        assert!(id.ends_with("-ft"));
        assert!(reg.list(false).unwrap().is_empty(), "a training run is not listed");
        assert_eq!(reg.list(true).unwrap().len(), 1);
        let e = reg.find(&id).unwrap_err().to_string();
        assert!(e.contains("--resume"), "{e}");
        let dir = reg.partial_dir(&id);
        std::fs::create_dir_all(dir.join("model")).unwrap();
        for f in [
            "model/config.json",
            "model/model.safetensors",
            "head.json",
            "manifest.json",
        ] {
            std::fs::write(dir.join(f), "{}").unwrap();
        }
        let labels = ["a".to_string(), "b".to_string()];
        let m = crate::eval::Metrics::compute(
            &labels,
            &[0, 1, 1],
            &[vec![0.9, 0.1], vec![0.2, 0.8], vec![0.3, 0.7]],
            &[vec![1.0, 0.0], vec![0.0, 1.0], vec![0.1, 0.9]],
        )
        .unwrap();
        let metrics = RunMetrics {
            baseline: m.clone(),
            finetuned: m,
            selected: Some(crate::finetune::Candidate::Finetuned),
            reason: None,
            rows: None,
        };
        let path = reg.complete(&id, "me", &metrics).unwrap();
        assert_eq!(path, reg.model_dir(&id));
        assert!(!reg.partial_dir(&id).exists());
        let listed = reg.list(false).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].metrics.as_ref().unwrap().kept().accuracy, 1.0);
        assert_eq!(reg.find("first").unwrap().unwrap().id, id, "found by nickname");
        assert!(reg.find("nobody").unwrap().is_none());
        // Damage the folder: a clear error naming the id.
        std::fs::remove_file(path.join("head.json")).unwrap();
        let e = reg.find(&id).unwrap_err().to_string();
        assert!(e.contains(&id) && e.contains("head.json"), "{e}");
        reg.remove(&id).unwrap();
        assert!(reg.list(true).unwrap().is_empty());
        assert!(!path.exists());
    }
}
