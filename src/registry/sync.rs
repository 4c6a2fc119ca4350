//! The registry's side of object storage ([`super::store`]): which folder goes up or comes down
//! when. Without object storage (the home, or a shared folder) every call here does nothing:
//! the folders already are where everyone reads them.

use super::{Registry, Status};
use crate::error::Result;

impl Registry {
    /// After a checkpoint: the run's folder (manifest and latest checkpoint) to the store.
    pub fn sync_run(&self, id: &str) -> Result<()> {
        match &self.objects {
            Some(o) => o.mirror_up(&self.partial_dir(id), &format!("models/{id}.partial"), &[]),
            None => Ok(()),
        }
    }

    /// Before a run is continued here: its folder from the store, if the store has one (it is
    /// the newest the run's owners made public).
    pub fn fetch_run(&self, id: &str) -> Result<()> {
        match &self.objects {
            Some(o) => o
                .mirror_down(&format!("models/{id}.partial"), &self.partial_dir(id))
                .map(|_| ()),
            None => Ok(()),
        }
    }

    /// Before a run's row says READY: the finished folder, whole, to the store (checkpoints
    /// left out).
    pub(super) fn publish(&self, id: &str) -> Result<()> {
        match &self.objects {
            Some(o) => o.mirror_up(&self.partial_dir(id), &format!("models/{id}"), &["checkpoints"]),
            None => Ok(()),
        }
    }

    /// After a run's row says READY: its checkpoints leave the store.
    pub(super) fn unpublish_run(&self, id: &str) {
        if let Some(o) = &self.objects {
            if let Err(e) = o.delete(&format!("models/{id}.partial")) {
                eprintln!("attune: run {id}: its checkpoints stay in the store: {e}");
            }
        }
    }

    /// A ready model's folder here, downloaded from the store on first use.
    pub(super) fn materialize(&self, id: &str, status: Status) -> Result<()> {
        let Some(o) = &self.objects else { return Ok(()) };
        let dir = self.model_dir(id);
        if status == Status::Ready && !dir.join("manifest.json").exists() {
            o.mirror_down(&format!("models/{id}"), &dir)?;
        }
        Ok(())
    }

    /// A removed model leaves the store.
    pub(super) fn delete_stored(&self, id: &str) -> Result<()> {
        if let Some(o) = &self.objects {
            o.delete(&format!("models/{id}"))?;
            o.delete(&format!("models/{id}.partial"))?;
        }
        Ok(())
    }

    /// An uploaded dataset's folder to the store.
    pub(super) fn sync_dataset(&self, id: &str) -> Result<()> {
        match &self.objects {
            Some(o) => o.mirror_up(&self.datasets_dir().join(id), &format!("datasets/{id}"), &[]),
            None => Ok(()),
        }
    }

    /// A dataset's folder here, from the store when this machine has not seen it.
    pub(super) fn fetch_dataset(&self, id: &str) -> Result<bool> {
        match &self.objects {
            Some(o) => o.mirror_down(&format!("datasets/{id}"), &self.datasets_dir().join(id)),
            None => Ok(false),
        }
    }
}
