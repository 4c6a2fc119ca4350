//! The registry's SQLite file in `ATTUNE_HOME` (WAL mode, so readers never wait on a writer).

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{Cell, Database, Dialect, Param, Row};
use crate::error::{Error, Result};

pub struct Sqlite {
    path: PathBuf,
    conn: Connection,
}

impl Sqlite {
    /// Opens (creating if needed) the database file and brings its tables up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |e: rusqlite::Error| Error::Registry {
            path: path.into(),
            reason: e.to_string(),
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        conn.execute_batch("PRAGMA journal_mode=WAL;").map_err(err)?;
        let mut db = Sqlite {
            path: path.into(),
            conn,
        };
        db.migrate()?;
        Ok(db)
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::Registry {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    fn migrate(&mut self) -> Result<()> {
        // Registries made before versions were recorded added their columns one by one; a
        // column already there is that migration, applied.
        super::migrate(
            self,
            None,
            |e| matches!(e, Error::Registry { reason, .. } if reason.contains("duplicate column name")),
        )
    }
}

fn to_sql(p: &Param) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match p {
        Param::Text(Some(s)) => Value::Text(s.clone()),
        Param::Int(Some(v)) => Value::Integer(*v),
        Param::Text(None) | Param::Int(None) => Value::Null,
    }
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Int(f as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

impl Database for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<usize> {
        let values: Vec<_> = params.iter().map(to_sql).collect();
        self.conn
            .execute(sql, rusqlite::params_from_iter(values))
            .map_err(|e| self.err(e))
    }

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
        let values: Vec<_> = params.iter().map(to_sql).collect();
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                (0..n)
                    .map(|i| r.get_ref(i).map(cell))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        drop(stmt);
        rows.map(|rows| rows.into_iter().map(Row).collect())
            .map_err(|e| self.err(e))
    }

    fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| self.err(e))
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))
    }

    fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_from_before_versions_is_brought_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite");
        // The table as an older attune made it: columns added one by one, nothing recorded.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT, base_model TEXT NOT NULL,
                 dataset_sha256 TEXT NOT NULL, params TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}',
                 created TEXT NOT NULL, status TEXT NOT NULL, error TEXT, progress TEXT);
             ALTER TABLE models ADD COLUMN owner TEXT;
             INSERT INTO models (id, base_model, dataset_sha256, params, created, status)
                 VALUES ('old-ft', 'base', 'sha', '{}', '2026-01-01T00:00:00Z', 'READY');",
        )
        .unwrap();
        drop(old);
        let mut db = Sqlite::open(&path).unwrap();
        let versions = db.query("SELECT COUNT(*) FROM schema_migrations", &[]).unwrap();
        assert_eq!(versions[0].int(0), Some(super::super::MIGRATIONS.len() as i64));
        let row = db
            .query("SELECT id, owner, lease_expires, takeovers FROM models", &[])
            .unwrap();
        assert_eq!(row[0].text(0).as_deref(), Some("old-ft"));
        assert_eq!((row[0].int(2), row[0].int(3)), (None, Some(0)));
        // A second open finds nothing to do.
        drop(db);
        Sqlite::open(&path).unwrap();
    }
}
