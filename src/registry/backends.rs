//! Which database and which store a registry uses: `ATTUNE_DATABASE_URL` (PostgreSQL; SQLite in
//! `ATTUNE_HOME` without it) and `ATTUNE_STORE` (`file:///path`, a folder every machine of a
//! cluster mounts; `ATTUNE_HOME` without it). Any mix is valid.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where model folders and uploaded datasets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `ATTUNE_HOME` itself.
    Home,
    /// A folder shared by the machines (NFS or any file system they all mount).
    Folder(PathBuf),
    /// S3-compatible object storage, `s3://BUCKET/PREFIX` (credentials and endpoint from the
    /// `AWS_*` variables); each process keeps local copies under its home.
    S3(String),
}

/// The registry's backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backends {
    /// A PostgreSQL URL; SQLite in the home when none.
    pub database: Option<String>,
    pub store: StoreLocation,
}

impl Default for Backends {
    fn default() -> Self {
        Backends {
            database: None,
            store: StoreLocation::Home,
        }
    }
}

impl Backends {
    /// From `ATTUNE_DATABASE_URL` and `ATTUNE_STORE`.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self::parse(var("ATTUNE_DATABASE_URL").as_deref(), var("ATTUNE_STORE").as_deref())
    }

    pub fn parse(database: Option<&str>, store: Option<&str>) -> Result<Self> {
        let database = match database {
            None => None,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Some(url.to_string()),
            Some(url) => {
                return Err(Error::Deployment {
                    variable: "ATTUNE_DATABASE_URL",
                    reason: format!(
                        "{} is not a PostgreSQL URL; use postgres://USER:PASSWORD@HOST:PORT/DATABASE, or unset it for SQLite in ATTUNE_HOME",
                        super::db::redact(url)
                    ),
                })
            }
        };
        let store = match store {
            None => StoreLocation::Home,
            Some(s) if s.starts_with("s3://") => StoreLocation::S3(s.to_string()),
            Some(s) => match s.strip_prefix("file://") {
                Some(path) if Path::new(path).is_absolute() => StoreLocation::Folder(PathBuf::from(path)),
                _ => {
                    return Err(Error::Deployment {
                        variable: "ATTUNE_STORE",
                        reason: format!(
                            "{s:?} is not a store attune knows; use s3://BUCKET/PREFIX (S3-compatible storage), file:///ABSOLUTE/PATH (a folder every machine mounts), or unset it to keep models in ATTUNE_HOME"
                        ),
                    })
                }
            },
        };
        Ok(Backends { database, store })
    }

    /// Whether several machines can share this registry.
    pub fn shared(&self) -> bool {
        self.database.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_clearly() {
        assert_eq!(Backends::parse(None, None).unwrap(), Backends::default());
        let b = Backends::parse(Some("postgres://u:p@h/db"), Some("file:///srv/attune")).unwrap();
        assert_eq!(b.store, StoreLocation::Folder("/srv/attune".into()));
        assert!(b.shared());
        let e = Backends::parse(Some("mysql://u:secret@h/db"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ATTUNE_DATABASE_URL") && !e.contains("secret"), "{e}");
        let b = Backends::parse(None, Some("s3://models/team-a")).unwrap();
        assert_eq!(b.store, StoreLocation::S3("s3://models/team-a".into()));
        let e = Backends::parse(None, Some("file://relative")).unwrap_err().to_string();
        assert!(e.contains("ATTUNE_STORE") && e.contains("file:///"), "{e}");
    }
}
