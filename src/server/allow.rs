//! Which models API requests may name: registry models (by ID or nickname) and the base models
//! the operator allows (`--allow-model`, the default model unless told otherwise). Anything
//! else, a folder path or a Hub id, is refused before any file is looked at or any download
//! starts, with the same 404 whether or not such a thing exists (`--allow-any-model` opens it).

use crate::error::{Error, Result};
use crate::registry::Registry;

#[derive(Debug, Clone)]
pub struct AllowList {
    /// Base models by the exact name a request uses.
    pub models: Vec<String>,
    /// Every model name is allowed, paths and Hub ids included.
    pub any: bool,
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList {
            models: vec![crate::DEFAULT_MODEL.to_string()],
            any: false,
        }
    }
}

impl AllowList {
    /// The allowed base models given by name; folders are never shown to clients.
    pub fn named(&self) -> impl Iterator<Item = &String> {
        self.models.iter().filter(|m| !m.starts_with(['/', '.', '~']))
    }

    /// Ok when a fine-tune may start from `spec`: only the allowed base models (the job runner
    /// resolves a base by folder or Hub id, never through the registry).
    pub fn check_base(&self, spec: &str) -> Result<()> {
        // A short name of the catalogue stands for its Hub id, whichever of the two was allowed.
        let hub_id = crate::source::catalog::expand(spec);
        if self.any
            || self
                .models
                .iter()
                .any(|m| m == spec || crate::source::catalog::expand(m) == hub_id)
        {
            return Ok(());
        }
        Err(Error::ModelNotAllowed {
            spec: spec.chars().take(200).collect(),
            allowed: self.named().cloned().collect(),
        })
    }

    /// Ok when a request may use `spec`: an allowed base model, or an ID or nickname of the
    /// registry (whether it is usable is then the registry's answer).
    pub fn check(&self, spec: &str, registry: &Registry) -> Result<()> {
        let not_allowed = match self.check_base(spec) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if registry.get_any(spec)?.is_some() || registry.list(false)?.iter().any(|r| r.name.as_deref() == Some(spec)) {
            return Ok(());
        }
        Err(not_allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_name_and_its_hub_id_are_one_base() {
        let allow = AllowList::default();
        assert!(allow.check_base("minilm").is_ok());
        assert!(allow.check_base(crate::DEFAULT_MODEL).is_ok());
        assert!(allow.check_base("mpnet").is_err());
        let mpnet = AllowList {
            models: vec!["mpnet".into()],
            any: false,
        };
        assert!(mpnet.check_base("sentence-transformers/all-mpnet-base-v2").is_ok());
        assert!(mpnet.check_base("minilm").is_err());
    }
}
