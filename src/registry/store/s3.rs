//! Model folders, run checkpoints and uploaded datasets in S3-compatible object storage
//! (`ATTUNE_STORE=s3://BUCKET/PREFIX`, with the usual `AWS_*` variables; `AWS_ENDPOINT` and
//! `AWS_ALLOW_HTTP=true` for a MinIO-style server). Every process keeps a local copy under its
//! `ATTUNE_HOME` and the store holds the shared truth:
//! - a run's folder (`models/<id>.partial/`: manifest and the latest checkpoint) is mirrored
//!   after every checkpoint, so another machine resumes it where it stopped;
//! - a finished model is uploaded whole (`models/<id>/`) before its row says READY, so a READY
//!   model is always complete in the store;
//! - a server downloads a model on first use, into a temporary folder renamed into place.
//!
//! Within a folder, `LATEST` (the pointer to the newest checkpoint) is written last and read
//! first, as on disk, so a reader never follows it to a checkpoint not fully there.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};

use super::ArtifactStore;
use crate::error::{Error, Result};

/// Files above this are uploaded in parts of this size.
const PART: usize = 16 << 20;

/// One runtime for every transfer of the process; the registry's callers are plain threads.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("attune-store")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| Error::Internal(format!("no runtime for the model store: {e}")))
}

/// An S3 bucket (and prefix) holding the registry's folders.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
}

impl ObjectStorage {
    /// `s3://BUCKET/PREFIX`, credentials and endpoint from the `AWS_*` environment. One client
    /// per store and process, made on first use: a server opens the registry on every request,
    /// and a new HTTP client each time would cost its setup and its pooled connections.
    pub fn open(url: &str) -> Result<Self> {
        static OPENED: OnceLock<Mutex<HashMap<String, ObjectStorage>>> = OnceLock::new();
        let endpoint = std::env::var("AWS_ENDPOINT").unwrap_or_default();
        let key = format!("{url} {endpoint}");
        let opened = OPENED.get_or_init(Mutex::default);
        if let Some(s) = opened.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(s.clone());
        }
        let s = Self::connect(url)?;
        opened.lock().unwrap_or_else(|e| e.into_inner()).insert(key, s.clone());
        Ok(s)
    }

    fn connect(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Deployment {
                variable: "ATTUNE_STORE",
                reason: format!("{url:?} names no bucket; use s3://BUCKET/PREFIX"),
            });
        }
        // A store that is away is said so within seconds (a user waits on it, a worker's run
        // fails clearly and resumes later), not after the default three minutes of retries.
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(15),
        };
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .build()
            .map_err(|e| Error::Deployment {
                variable: "ATTUNE_STORE",
                reason: format!(
                    "{url}: {e}; set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION (and AWS_ENDPOINT for a server other than AWS)"
                ),
            })?;
        Ok(ObjectStorage {
            url: url.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            store: Arc::new(store),
        })
    }

    fn error(&self, reason: impl std::fmt::Display) -> Error {
        Error::Store {
            at: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    /// The key of `rel` (a path relative to the registry's root, `models/<id>/head.json`).
    fn key(&self, rel: &str) -> Key {
        let rel = rel.trim_matches('/');
        Key::from(if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        })
    }

    fn block_on<T>(&self, f: impl std::future::Future<Output = object_store::Result<T>>) -> Result<T> {
        runtime()?.block_on(f).map_err(|e| self.error(e))
    }

    /// Every key under folder `rel`, relative to it.
    fn list(&self, rel: &str) -> Result<Vec<String>> {
        let base = self.key(rel);
        let store = self.store.clone();
        let metas = runtime()?
            .block_on(async move { store.list(Some(&base)).collect::<Vec<_>>().await })
            .into_iter()
            .collect::<object_store::Result<Vec<_>>>()
            .map_err(|e| self.error(e))?;
        let base = self.key(rel).to_string();
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                m.location
                    .as_ref()
                    .strip_prefix(&base)
                    .map(|s| s.trim_start_matches('/').to_string())
            })
            .filter(|s| !s.is_empty())
            .collect())
    }

    fn ping(&self) -> Result<()> {
        let store = self.store.clone();
        let key = self.key("models");
        self.block_on(async move {
            let mut s = store.list(Some(&key));
            match s.next().await {
                Some(Err(e)) => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn put_file(&self, file: &Path, key: Key) -> Result<()> {
        let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
        let len = f.metadata().map_err(|e| Error::io(file, e))?.len() as usize;
        let store = self.store.clone();
        if len <= PART {
            let mut bytes = Vec::with_capacity(len);
            f.read_to_end(&mut bytes).map_err(|e| Error::io(file, e))?;
            return self.block_on(async move { store.put(&key, PutPayload::from(bytes)).await.map(|_| ()) });
        }
        let file = file.to_path_buf();
        runtime()?.block_on(async move {
            let upload = store.put_multipart(&key).await.map_err(|e| self.error(e))?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buf = vec![0u8; PART];
            loop {
                let n = f.read(&mut buf).map_err(|e| Error::io(&file, e))?;
                if n == 0 {
                    break;
                }
                w.wait_for_capacity(4).await.map_err(|e| self.error(e))?;
                w.write(&buf[..n]);
            }
            w.finish().await.map(|_| ()).map_err(|e| self.error(e))
        })
    }

    fn get_file(&self, key: Key, to: &Path) -> Result<()> {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut out = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
        let store = self.store.clone();
        runtime()?.block_on(async move {
            let mut chunks = store.get(&key).await.map_err(|e| self.error(e))?.into_stream();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| self.error(e))?;
                out.write_all(&chunk).map_err(|e| Error::io(to, e))?;
            }
            out.sync_all().map_err(|e| Error::io(to, e))
        })
    }

    /// Makes folder `rel` in the store hold exactly the files of `local` (`skip`: top-level
    /// names left out): files uploaded with `LATEST` last, then keys no longer there deleted.
    fn mirror_up(&self, local: &Path, rel: &str, skip: &[&str]) -> Result<()> {
        let mut files = Vec::new();
        walk(local, local, &mut files)?;
        files.retain(|f| !skip.iter().any(|s| f == s || f.starts_with(&format!("{s}/"))));
        // The pointer goes last: whoever reads it finds what it points to.
        files.sort_by_key(|f| (f.ends_with("LATEST"), f.clone()));
        for f in &files {
            self.put_file(&local.join(f), self.key(&format!("{rel}/{f}")))?;
        }
        let keep: HashSet<&String> = files.iter().collect();
        for stale in self.list(rel)?.iter().filter(|k| !keep.contains(k)) {
            let key = self.key(&format!("{rel}/{stale}"));
            let store = self.store.clone();
            self.block_on(async move { store.delete(&key).await })?;
        }
        Ok(())
    }

    /// Downloads folder `rel` into `local`, replacing it; `false` (and `local` untouched) when
    /// the store has nothing there. The copy is made beside `local` and renamed into place.
    fn mirror_down(&self, rel: &str, local: &Path) -> Result<bool> {
        let keys = self.list(rel)?;
        if keys.is_empty() {
            return Ok(false);
        }
        let name = local.file_name().and_then(|n| n.to_str()).unwrap_or("folder");
        let tmp = local.with_file_name(format!(".{name}.download-{}", uuid::Uuid::new_v4().simple()));
        let fetched = (|| {
            for k in &keys {
                self.get_file(self.key(&format!("{rel}/{k}")), &tmp.join(k))?;
            }
            if local.exists() {
                std::fs::remove_dir_all(local).map_err(|e| Error::io(local, e))?;
            }
            std::fs::rename(&tmp, local).map_err(|e| Error::io(local, e))
        })();
        if fetched.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        fetched.map(|_| true)
    }

    fn delete_all(&self, rel: &str) -> Result<()> {
        for k in self.list(rel)? {
            let key = self.key(&format!("{rel}/{k}"));
            let store = self.store.clone();
            self.block_on(async move { store.delete(&key).await })?;
        }
        Ok(())
    }
}

impl ArtifactStore for ObjectStorage {
    fn push(&self, local: &Path, rel: &str, skip: &[&str]) -> Result<()> {
        self.mirror_up(local, rel, skip)
    }

    fn pull(&self, rel: &str, local: &Path) -> Result<bool> {
        self.mirror_down(rel, local)
    }

    fn delete(&self, rel: &str) -> Result<()> {
        self.delete_all(rel)
    }

    fn check(&self) -> Result<()> {
        self.ping()
    }
}

/// Files under `dir`, as paths relative to `root` with `/` separators.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p: PathBuf = e.map_err(|e| Error::io(dir, e))?.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}
