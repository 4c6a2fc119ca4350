//! When a folder goes to the registry's store or comes from it ([`super::store`]). With a
//! folder store these calls copy nothing: the folders already are where everyone reads them.

use super::{Registry, Status};
use crate::error::Result;

impl Registry {
    /// After a checkpoint: the run's folder (manifest and latest checkpoint) to the store, where
    /// another machine can resume it.
    pub fn sync_run(&self, id: &str) -> Result<()> {
        self.store
            .push(&self.partial_dir(id), &format!("models/{id}.partial"), &[])
    }

    /// Before a run is continued here: its folder from the store, if the store has one (the
    /// newest its owners made public).
    pub fn fetch_run(&self, id: &str) -> Result<()> {
        self.store
            .pull(&format!("models/{id}.partial"), &self.partial_dir(id))
            .map(|_| ())
    }

    /// Before a run's row says READY: the finished folder, whole, to the store (checkpoints
    /// left out).
    pub(super) fn publish(&self, id: &str) -> Result<()> {
        self.store
            .push(&self.partial_dir(id), &format!("models/{id}"), &["checkpoints"])
    }

    /// After a run's row says READY: its checkpoints leave the store.
    pub(super) fn unpublish_run(&self, id: &str) {
        if let Err(e) = self.store.delete(&format!("models/{id}.partial")) {
            eprintln!("attune: run {id}: its checkpoints stay in the store: {e}");
        }
    }

    /// A ready model's folder here, from the store on first use.
    pub(super) fn materialize(&self, id: &str, status: Status) -> Result<()> {
        let dir = self.model_dir(id);
        if status == Status::Ready && !dir.join("manifest.json").exists() {
            self.store.pull(&format!("models/{id}"), &dir)?;
        }
        Ok(())
    }

    /// A removed model leaves the store.
    pub(super) fn delete_stored(&self, id: &str) -> Result<()> {
        self.store.delete(&format!("models/{id}"))?;
        self.store.delete(&format!("models/{id}.partial"))
    }

    /// An uploaded dataset's folder to the store.
    pub(super) fn sync_dataset(&self, id: &str) -> Result<()> {
        self.store
            .push(&self.datasets_dir().join(id), &format!("datasets/{id}"), &[])
    }

    /// A dataset's folder here, from the store when this machine has not seen it.
    pub(super) fn fetch_dataset(&self, id: &str) -> Result<bool> {
        self.store
            .pull(&format!("datasets/{id}"), &self.datasets_dir().join(id))
    }
}
