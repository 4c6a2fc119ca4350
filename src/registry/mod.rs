//! The model registry under `ATTUNE_HOME`: an SQLite table of models and one folder per model.
//!
//! A run is inserted as `FINETUNING` (or `QUEUED` first, by the HTTP API) with its folder at `models/<id>.partial`; only when that
//! folder is complete is it renamed to `models/<id>` and the row set to `READY` in one
//! transaction. Listing shows `READY` models, so a crash or kill mid-training never lists a half
//! model, and the partial folder holds the checkpoints that `--resume` continues from.
//!
//! A run in training is owned: its row holds the owner's id and a lease that the owner renews
//! (see [`lease`]); nobody else touches a run whose lease is live.

mod backends;
mod datasets;
pub mod db;
mod lease;
mod queue;
mod store;
mod sync;

pub use backends::{Backends, StoreLocation};
pub use datasets::DatasetRecord;
pub use lease::{lease_seconds, owner_id, Heartbeat, Renewal};
pub use queue::{QueueStats, WorkerState};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::db::{Database, Row};
use crate::sql_params as params;

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
    /// Where model folders and datasets live: the home, or a folder the cluster shares.
    root: PathBuf,
    /// Locked per call: a registry may be used from several threads (the heartbeat's own).
    db: std::sync::Mutex<Box<dyn Database>>,
    /// Where the folders under the root are shared (with object storage the root is this
    /// process's local copy).
    store: Box<dyn store::ArtifactStore>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("home", &self.home)
            .field("database", &self.database())
            .finish()
    }
}

/// `ATTUNE_HOME`, else the platform data folder + `attune`.
pub fn default_home() -> PathBuf {
    std::env::var_os("ATTUNE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("attune"))
}

fn json_text<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(e.to_string()))
}

impl Registry {
    /// Opens (creating if needed) the registry at `home`, with the backends the environment
    /// names ([`Backends::from_env`]).
    pub fn open(home: &Path) -> Result<Self> {
        Self::open_with(home, &Backends::from_env()?)
    }

    /// Opens the registry at `home` with these backends.
    pub fn open_with(home: &Path, backends: &Backends) -> Result<Self> {
        let (root, store): (PathBuf, Box<dyn store::ArtifactStore>) = match &backends.store {
            StoreLocation::Home => (home.to_path_buf(), Box::new(store::Folder { root: home.into() })),
            StoreLocation::Folder(p) => (p.clone(), Box::new(store::Folder { root: p.clone() })),
            StoreLocation::S3(url) => (home.to_path_buf(), Box::new(store::ObjectStorage::open(url)?)),
        };
        let models = root.join("models");
        std::fs::create_dir_all(&models).map_err(|e| Error::io(&models, e))?;
        std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
        let db: Box<dyn Database> = match &backends.database {
            Some(url) => Box::new(db::Postgres::open(url)?),
            None => Box::new(db::Sqlite::open(&home.join("registry.sqlite"))?),
        };
        Ok(Registry {
            home: home.to_path_buf(),
            root,
            db: std::sync::Mutex::new(db),
            store,
        })
    }

    pub fn open_default() -> Result<Self> {
        Self::open(&default_home())
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Whether the database answers (a server's `/health`).
    pub fn ping(&self) -> Result<()> {
        self.db().ping()
    }

    /// Whether the database answers and the store takes a write: a server's `/health`.
    pub fn check_health(&self) -> Result<()> {
        self.ping()?;
        self.store.check()
    }

    /// Where the database is, for messages (no password).
    pub fn database(&self) -> String {
        self.db().describe()
    }

    /// The folder of a finished model.
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.root.join("models").join(id)
    }

    /// The folder of a model still training.
    pub fn partial_dir(&self, id: &str) -> PathBuf {
        self.root.join("models").join(format!("{id}.partial"))
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
        self.db().execute(
            "INSERT INTO models (id, name, base_model, dataset_sha256, params, created, status, owner, lease_expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id.as_str(),
                name,
                base,
                sha256,
                params.to_string(),
                chrono::Utc::now().to_rfc3339(),
                status.as_str(),
                owner,
                expires
            ],
        )?;
        Ok(id)
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Box<dyn Database>> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a run's progress, as the API shows it.
    pub fn set_progress(&self, id: &str, progress: &JobProgress) -> Result<()> {
        let text = json_text(progress)?;
        self.db()
            .execute("UPDATE models SET progress = ?2 WHERE id = ?1", params![id, text])?;
        Ok(())
    }

    /// Finishes a run `owner` holds: the partial folder (complete by now) becomes the model
    /// folder and the row `READY` with its metrics. A run whose lease was lost is left alone.
    ///
    /// A shared database that drops the connection midway (a restart) is waited for: the step is
    /// safe to repeat, since a folder already moved is not moved again.
    pub fn complete(&mut self, id: &str, owner: &str, metrics: &RunMetrics) -> Result<PathBuf> {
        let metrics = json_text(metrics)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(lease_seconds());
        loop {
            match self.complete_once(id, owner, &metrics) {
                Err(Error::Database { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
                r => return r,
            }
        }
    }

    fn complete_once(&mut self, id: &str, owner: &str, metrics: &str) -> Result<PathBuf> {
        let (from, to) = (self.partial_dir(id), self.model_dir(id));
        // The finished folder is whole in the store before the row says READY.
        if from.exists() {
            self.publish(id)?;
        }
        let lock = self.db().dialect().lock_row(false);
        let mut db = self.db();
        let done = db::transaction(&mut **db, |db| {
            let held = db
                .query(&format!("SELECT owner FROM models WHERE id = ?1{lock}"), params![id])?
                .first()
                .and_then(|r| r.text(0));
            if held.as_deref() != Some(owner) {
                return Err(Error::Leased {
                    id: id.into(),
                    owner: held.unwrap_or_else(|| "nobody".into()),
                });
            }
            // A repeat after the folder moved but the row did not change finds it moved.
            if from.exists() {
                if to.exists() {
                    std::fs::remove_dir_all(&to).map_err(|e| Error::io(&to, e))?;
                }
                // Checkpoints are only for resuming; the finished model does not need them.
                let ckpt = from.join("checkpoints");
                if ckpt.exists() {
                    std::fs::remove_dir_all(&ckpt).map_err(|e| Error::io(&ckpt, e))?;
                }
                std::fs::rename(&from, &to).map_err(|e| Error::io(&from, e))?;
            }
            // Fault injection for the crash tests: die between the folder's rename and the row's
            // update, the one moment the two disagree.
            if std::env::var_os("ATTUNE_FAULT_ABORT_IN_COMPLETE").is_some() {
                std::process::abort();
            }
            db.execute(
                "UPDATE models SET status = 'READY', metrics = ?2, error = NULL, owner = NULL, lease_expires = NULL WHERE id = ?1",
                params![id, metrics],
            )?;
            Ok(to.clone())
        })?;
        drop(db);
        self.unpublish_run(id);
        Ok(done)
    }

    /// Marks a run failed, keeping its partial folder so it can be resumed. Only its owner (or
    /// anyone, for a run nobody owns, such as a queued one) may.
    pub fn fail(&self, id: &str, owner: Option<&str>, reason: &str) -> Result<()> {
        self.db().execute(
            "UPDATE models SET status = 'FAILED', error = ?2, owner = NULL, lease_expires = NULL
             WHERE id = ?1 AND status != 'READY' AND (owner IS NULL OR owner = ?3)",
            params![id, reason, owner],
        )?;
        Ok(())
    }

    fn record(&self, r: &Row) -> ModelRecord {
        let id = r.text(0).unwrap_or_default();
        let status = r.text(7).and_then(|s| Status::parse(&s)).unwrap_or(Status::Failed);
        let path = if status == Status::Ready {
            self.model_dir(&id)
        } else {
            self.partial_dir(&id)
        };
        let params = r.text(4).and_then(|s| serde_json::from_str(&s).ok());
        ModelRecord {
            name: r.text(1),
            base_model: r.text(2).unwrap_or_default(),
            dataset_sha256: r.text(3).unwrap_or_default(),
            params: params.unwrap_or(serde_json::Value::Null),
            metrics: r.text(5).and_then(|s| serde_json::from_str(&s).ok()),
            created: r.text(6).unwrap_or_default(),
            status,
            error: r.text(8),
            // A record an older version wrote in another shape reads as no progress.
            progress: r.text(9).and_then(|p| serde_json::from_str(&p).ok()),
            path,
            owner: r.text(10),
            lease_expires: r.int(11),
            cancel_requested: r.int(12).unwrap_or(0) != 0,
            id,
        }
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
        let rows = self.db().query(&sql, &[])?;
        Ok(rows.iter().map(|r| self.record(r)).collect())
    }

    /// The entry with this id, whatever its status.
    pub fn get_any(&self, id: &str) -> Result<Option<ModelRecord>> {
        let sql = format!("SELECT {} FROM models WHERE id = ?1", Self::COLUMNS);
        let rows = self.db().query(&sql, params![id])?;
        Ok(rows.first().map(|r| self.record(r)))
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
            self.materialize(&r.id, r.status)?;
            self.check(&r)?;
            return Ok(Some(r));
        }
        // By nickname: one indexed look, not the whole list (a server asks on every request).
        let sql = format!(
            "SELECT {} FROM models WHERE name = ?1 AND status = 'READY' ORDER BY created DESC",
            Self::COLUMNS
        );
        let rows = self.db().query(&sql, params![spec])?;
        let named: Vec<ModelRecord> = rows.iter().map(|r| self.record(r)).collect();
        match named.len() {
            0 => Ok(None),
            1 => {
                self.materialize(&named[0].id, named[0].status)?;
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
        let n = self.db().execute(
            "DELETE FROM models WHERE id = ?1 AND NOT (status = 'FINETUNING' AND COALESCE(lease_expires, 0) > ?2)",
            params![id, lease::now_ms()],
        )?;
        if n == 0 {
            return Err(Error::Leased {
                id: id.into(),
                owner: r.owner.clone().unwrap_or_default(),
            });
        }
        self.delete_stored(id)?;
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
