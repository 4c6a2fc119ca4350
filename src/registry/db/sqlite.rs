//! The registry's SQLite file in `ATTUNE_HOME` (WAL mode, so readers never wait on a writer).

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{Cell, Database, Dialect, Param, Row, MIGRATIONS};
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
        self.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL)",
            &[],
        )?;
        let done: Vec<i64> = self
            .query("SELECT version FROM schema_migrations", &[])?
            .iter()
            .filter_map(|r| r.int(0))
            .collect();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !done.contains(v)) {
            super::transaction(self, |db| {
                match db.execute(sql, &[]) {
                    Ok(_) => {}
                    // Registries made before versions were recorded added their columns one by
                    // one; a column already there is that migration, applied.
                    Err(Error::Registry { reason, .. }) if reason.contains("duplicate column name") => {}
                    Err(e) => return Err(e),
                }
                db.execute(
                    "INSERT INTO schema_migrations (version, applied) VALUES (?1, ?2)",
                    crate::sql_params![*version, chrono::Utc::now().to_rfc3339()],
                )
                .map(|_| ())
            })?;
        }
        Ok(())
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
