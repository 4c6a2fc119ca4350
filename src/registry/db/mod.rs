//! The registry's database behind one small interface: SQLite in `ATTUNE_HOME` (the zero-setup
//! default) or PostgreSQL shared by many machines (`ATTUNE_DATABASE_URL=postgres://...`).
//!
//! The registry writes its SQL once, with `?N` placeholders and types both databases share
//! (TEXT and 64-bit integers); each backend runs it in its own dialect. Where the two differ in
//! more than spelling (locking a row for a claim), the backend says how through [`Dialect`].

mod postgres;
mod sqlite;

pub use self::postgres::{redact, Postgres};
pub use self::sqlite::Sqlite;

use crate::error::{Error, Result};

/// A parameter: its type is known even when it is NULL, as PostgreSQL needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(Some(s.to_string()))
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(Some(s))
    }
}

impl From<Option<&str>> for Param {
    fn from(s: Option<&str>) -> Self {
        Param::Text(s.map(str::to_string))
    }
}

impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}

impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Int(Some(i64::from(v)))
    }
}

/// Builds a parameter list: `params![id, owner, 3_i64]`.
#[macro_export]
#[doc(hidden)]
macro_rules! sql_params {
    ($($p:expr),* $(,)?) => { &[$($crate::registry::db::Param::from($p)),*][..] };
}

/// One value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// One row read back, its cells in the order the query named the columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Cell>);

impl Row {
    pub fn text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Cell::Text(s)) => Some(s.clone()),
            Some(Cell::Int(v)) => Some(v.to_string()),
            _ => None,
        }
    }

    pub fn int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Cell::Int(v)) => Some(*v),
            Some(Cell::Text(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

/// Where the two databases spell things differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a `SELECT` that picks a row to change: PostgreSQL locks it (and a claim skips
    /// rows other workers hold); SQLite's `BEGIN IMMEDIATE` already holds the whole database.
    pub fn lock_row(self, skip_locked: bool) -> &'static str {
        match (self, skip_locked) {
            (Dialect::Sqlite, _) => "",
            (Dialect::Postgres, false) => " FOR UPDATE",
            (Dialect::Postgres, true) => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A connection to the registry's database.
pub trait Database: Send {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<usize>;

    /// Runs a query; its rows.
    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>>;

    /// Starts a transaction that writes (SQLite takes its write lock at once).
    fn begin(&mut self) -> Result<()>;

    fn commit(&mut self) -> Result<()>;

    /// Ends a transaction without its changes; never fails loudly (it runs on error paths).
    fn rollback(&mut self);

    /// Where the database is, for messages (never a password).
    fn describe(&self) -> String;

    /// Checks the database answers (`/health`).
    fn ping(&mut self) -> Result<()> {
        self.query("SELECT 1", &[]).map(|_| ())
    }
}

/// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
pub fn transaction<T>(db: &mut dyn Database, f: impl FnOnce(&mut dyn Database) -> Result<T>) -> Result<T> {
    db.begin()?;
    match f(db) {
        Ok(v) => {
            db.commit()?;
            Ok(v)
        }
        Err(e) => {
            db.rollback();
            Err(e)
        }
    }
}

/// Applies the [`MIGRATIONS`] the database lacks, in one transaction, after `lock` (a statement
/// that makes concurrent starts wait their turn). `applied_already` names the errors that mean a
/// registry made before versions were recorded already has that change.
pub(crate) fn migrate(db: &mut dyn Database, lock: Option<&str>, applied_already: fn(&Error) -> bool) -> Result<()> {
    // The common case, an up-to-date database, takes no lock (SQLite migrates at every open).
    let recorded = db.query("SELECT COUNT(*) FROM schema_migrations", &[]);
    if recorded.is_ok_and(|r| r.first().and_then(|r| r.int(0)) == Some(MIGRATIONS.len() as i64)) {
        return Ok(());
    }
    transaction(db, |db| {
        if let Some(lock) = lock {
            db.query(lock, &[])?;
        }
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL)",
            &[],
        )?;
        let done: Vec<i64> = db
            .query("SELECT version FROM schema_migrations", &[])?
            .iter()
            .filter_map(|r| r.int(0))
            .collect();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !done.contains(v)) {
            match db.execute(sql, &[]) {
                Err(e) if !applied_already(&e) => return Err(e),
                _ => {}
            }
            db.execute(
                "INSERT INTO schema_migrations (version, applied) VALUES (?1, ?2)",
                crate::sql_params![*version, chrono::Utc::now().to_rfc3339()],
            )?;
        }
        Ok(())
    })
}

/// The registry's tables, as each version of the schema adds them. Both databases apply the same
/// list in order; a database records the versions it has (`schema_migrations`).
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE IF NOT EXISTS models (
             id TEXT PRIMARY KEY,
             name TEXT,
             base_model TEXT NOT NULL,
             dataset_sha256 TEXT NOT NULL,
             params TEXT NOT NULL,
             metrics TEXT NOT NULL DEFAULT '{}',
             created TEXT NOT NULL,
             status TEXT NOT NULL,
             error TEXT,
             progress TEXT
         )",
    ),
    (2, "ALTER TABLE models ADD COLUMN owner TEXT"),
    (3, "ALTER TABLE models ADD COLUMN lease_expires BIGINT"),
    (
        4,
        "ALTER TABLE models ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0",
    ),
    (
        5,
        "CREATE TABLE IF NOT EXISTS workers (
             id TEXT PRIMARY KEY,
             state TEXT NOT NULL,
             job TEXT,
             seen BIGINT NOT NULL
         )",
    ),
    (
        6,
        "CREATE INDEX IF NOT EXISTS models_status ON models (status, created)",
    ),
    (7, "ALTER TABLE models ADD COLUMN takeovers BIGINT NOT NULL DEFAULT 0"),
    (8, "CREATE INDEX IF NOT EXISTS models_name ON models (name)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_either_type() {
        let r = Row(vec![Cell::Int(3), Cell::Text("7".into()), Cell::Null]);
        assert_eq!(r.int(0), Some(3));
        assert_eq!(r.text(0).as_deref(), Some("3"));
        assert_eq!(r.int(1), Some(7));
        assert_eq!(r.text(2), None);
        assert_eq!(r.int(5), None);
    }
}
