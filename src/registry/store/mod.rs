//! Where the registry's folders (model folders, run checkpoints, uploaded datasets) are shared,
//! behind one small interface: a folder (the home, or one every machine mounts, read and written
//! in place) or S3-compatible object storage ([`ObjectStorage`], with a local copy per process).

mod s3;

pub use s3::ObjectStorage;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The registry's shared folders. Paths are relative to the registry's root
/// (`models/<id>`, `datasets/<id>`); `local` is this process's copy of that folder.
pub trait ArtifactStore: Send + Sync + std::fmt::Debug {
    /// Makes folder `rel` in the store hold exactly the files of `local` (`skip`: top-level
    /// names left out).
    fn push(&self, local: &Path, rel: &str, skip: &[&str]) -> Result<()>;

    /// Brings folder `rel` from the store into `local`, replacing it; `false` (and `local`
    /// untouched) when the store has nothing there.
    fn pull(&self, rel: &str, local: &Path) -> Result<bool>;

    /// Deletes folder `rel` from the store.
    fn delete(&self, rel: &str) -> Result<()>;

    /// Whether the store answers and takes writes (a server's `/health`).
    fn check(&self) -> Result<()>;
}

/// A folder: the local copies are the store itself, so nothing is copied; the registry reads,
/// renames and removes its folders in place.
#[derive(Debug)]
pub struct Folder {
    pub root: PathBuf,
}

impl ArtifactStore for Folder {
    fn push(&self, _local: &Path, _rel: &str, _skip: &[&str]) -> Result<()> {
        Ok(())
    }

    fn pull(&self, _rel: &str, _local: &Path) -> Result<bool> {
        Ok(false)
    }

    fn delete(&self, _rel: &str) -> Result<()> {
        Ok(())
    }

    fn check(&self) -> Result<()> {
        let probe = self
            .root
            .join("models")
            .join(format!(".health-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&probe, b"ok")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| Error::Store {
                at: self.root.display().to_string(),
                reason: format!("cannot write {}: {e}", probe.display()),
            })
    }
}
