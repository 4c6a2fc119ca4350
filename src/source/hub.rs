//! The Hugging Face Hub as a model source, through the standard Hugging Face cache
//! (`$HF_HOME/hub/models--ORG--NAME/snapshots/SHA/...`, `refs/REVISION`), so that models
//! Python tools downloaded are reused and the other way round.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{http, SourceOptions};
use crate::error::{Error, Result};

/// Files a sentence-embedding model needs, beyond the per-module configs found in the listing.
const WANTED: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
];

fn repo_dir(opts: &SourceOptions, repo: &str) -> PathBuf {
    opts.hub_cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// The cached snapshot of `repo` at the configured revision, if it holds a `config.json`.
pub(crate) fn cached(opts: &SourceOptions, repo: &str) -> Result<PathBuf, String> {
    let dir = repo_dir(opts, repo);
    let rev = &opts.revision;
    let sha = if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        rev.clone()
    } else {
        let r = dir.join("refs").join(rev);
        std::fs::read_to_string(&r)
            .map_err(|_| format!("Hugging Face cache: {} not found", r.display()))?
            .trim()
            .to_string()
    };
    let snap = dir.join("snapshots").join(sha);
    if snap.join("config.json").exists() && has_weights(&snap) {
        Ok(snap)
    } else {
        Err(format!("Hugging Face cache: {} is incomplete", snap.display()))
    }
}

fn has_weights(dir: &Path) -> bool {
    crate::encoder::weights::WEIGHT_FILES
        .iter()
        .any(|f| dir.join(f).exists())
}

#[derive(Deserialize)]
struct RepoInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
}

/// Downloads the files of `repo` a sentence-embedding model needs into the Hugging Face cache.
pub(crate) fn download(opts: &SourceOptions, repo: &str) -> Result<PathBuf> {
    let agent = http::agent();
    let token = opts.hf_token.as_deref();
    let base = opts.hf_endpoint.trim_end_matches('/');
    let info_url = format!("{base}/api/models/{repo}/revision/{}", opts.revision);
    let info: RepoInfo = http::get_json(&agent, &info_url, token)?;
    let names: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    let weights = crate::encoder::weights::WEIGHT_FILES
        .iter()
        .find(|w| names.contains(w))
        .ok_or_else(|| Error::Download {
            url: info_url.clone(),
            reason: format!(
                "the repository has no weights attune reads ({})",
                crate::encoder::weights::WEIGHT_FILES.join(", ")
            ),
        })?;
    let mut files: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| WANTED.contains(n) || is_module_config(n))
        .collect();
    files.push(weights);
    let dir = repo_dir(opts, repo);
    let snap = dir.join("snapshots").join(&info.sha);
    for f in files {
        let dest = snap.join(f);
        if dest.exists() {
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        opts.say(&format!("downloading {repo}/{f}"));
        http::download(&agent, &format!("{base}/{repo}/resolve/{}/{f}", info.sha), token, &dest)?;
    }
    let refs = dir.join("refs");
    std::fs::create_dir_all(&refs).map_err(|e| Error::io(&refs, e))?;
    crate::util::write_atomic(&refs.join(&opts.revision), |w| w.write_all(info.sha.as_bytes()))?;
    Ok(snap)
}

/// `1_Pooling/config.json` and the like: the config of a sentence-transformers module folder.
fn is_module_config(name: &str) -> bool {
    let mut parts = name.split('/');
    matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("config.json"), None) if d.split_once('_').is_some_and(|(i, _)| i.parse::<u32>().is_ok()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_configs() {
        assert!(super::is_module_config("1_Pooling/config.json"));
        assert!(super::is_module_config("2_Dense/config.json"));
        assert!(!super::is_module_config("config.json"));
        assert!(!super::is_module_config("onnx/config.json"));
    }
}
