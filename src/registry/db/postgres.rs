//! The registry in PostgreSQL, shared by every server and worker of a cluster.
//!
//! Connections are pooled per process (opening a registry is cheap, as with SQLite) and checked
//! on reuse: one that broke (the server restarted) is dropped, and a statement outside a
//! transaction that finds its connection closed is tried once more on a new one, so a restart of
//! the database between two calls goes unnoticed.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};

use super::{Cell, Database, Dialect, Param, Row};
use crate::error::{Error, Result};

/// Idle connections kept per database, per process.
const POOL_SIZE: usize = 16;

fn pool() -> &'static Mutex<HashMap<String, Vec<Client>>> {
    static POOL: OnceLock<Mutex<HashMap<String, Vec<Client>>>> = OnceLock::new();
    POOL.get_or_init(Mutex::default)
}

fn migrated() -> &'static Mutex<HashSet<String>> {
    static DONE: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    DONE.get_or_init(Mutex::default)
}

/// `url` with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.rsplit_once('@') {
            let user = auth.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
        return url.to_string();
    }
    // The key=value form.
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Postgres {
    url: String,
    client: Option<Client>,
    in_transaction: bool,
}

impl Postgres {
    /// Connects (or reuses a pooled connection) and brings the tables up to date, once per
    /// process.
    pub fn open(url: &str) -> Result<Self> {
        let mut db = Postgres {
            url: url.to_string(),
            client: None,
            in_transaction: false,
        };
        db.client = Some(db.take_client()?);
        let fresh = !migrated().lock().unwrap_or_else(|e| e.into_inner()).contains(url);
        if fresh {
            db.migrate()?;
            migrated()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(url.to_string());
        }
        Ok(db)
    }

    fn error(&self, reason: impl std::fmt::Display) -> Error {
        Error::Database {
            at: redact(&self.url),
            reason: reason.to_string(),
        }
    }

    fn take_client(&self) -> Result<Client> {
        let pooled = pool()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&self.url)
            .and_then(Vec::pop);
        if let Some(c) = pooled.filter(|c| !c.is_closed()) {
            return Ok(c);
        }
        let mut config = postgres::Config::from_str(&self.url).map_err(|e| {
            self.error(format!(
                "{e}; ATTUNE_DATABASE_URL takes the form postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("attune");
        }
        config.connect(NoTls).map_err(|e| self.error(e))
    }

    fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(self.take_client()?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::Internal("no database connection".into()))
    }

    /// Concurrent first starts (two workers at once) apply the list once: the advisory lock
    /// makes the others wait, then find the versions recorded.
    fn migrate(&mut self) -> Result<()> {
        super::migrate(self, Some("SELECT pg_advisory_xact_lock(7271727)"), |_| false)
    }

    /// Runs `f` on the connection; outside a transaction, a connection found closed is replaced
    /// and `f` tried once more.
    fn with_retry<T>(
        &mut self,
        mut f: impl FnMut(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let first = f(self.client()?);
        match first {
            Err(e) if e.is_closed() && !self.in_transaction => {
                self.client = None;
                f(self.client()?).map_err(|e| self.error(e))
            }
            r => r.map_err(|e| self.error(e)),
        }
    }
}

/// `?N` placeholders (the registry's one spelling) as PostgreSQL's `$N`.
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn typed(params: &[Param]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(v) => (v as &(dyn ToSql + Sync), Type::TEXT),
            Param::Int(v) => (v as &(dyn ToSql + Sync), Type::INT8),
        })
        .collect()
}

fn cells(row: &postgres::Row) -> std::result::Result<Row, postgres::Error> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        let c = if *t == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Cell::Int)
        } else if *t == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Int(v.into()))
        } else if *t == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Int(v.into()))
        } else if *t == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?.map(|v| Cell::Int(v.into()))
        } else if *t == Type::VOID {
            None
        } else {
            row.try_get::<_, Option<String>>(i)?.map(Cell::Text)
        };
        out.push(c.unwrap_or(Cell::Null));
    }
    Ok(Row(out))
}

impl Database for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<usize> {
        let sql = dollar_placeholders(sql);
        let n = self.with_retry(|c| c.execute_typed(&sql, &typed(params)));
        n.map(|n| n as usize)
    }

    fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Row>> {
        let sql = dollar_placeholders(sql);
        let rows = self.with_retry(|c| c.query_typed(&sql, &typed(params)))?;
        rows.iter()
            .map(cells)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }

    fn begin(&mut self) -> Result<()> {
        self.with_retry(|c| c.batch_execute("BEGIN"))?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.in_transaction = false;
        self.with_retry(|c| c.batch_execute("COMMIT"))
    }

    fn rollback(&mut self) {
        self.in_transaction = false;
        if let Some(c) = self.client.as_mut() {
            if c.batch_execute("ROLLBACK").is_err() {
                self.client = None;
            }
        }
    }

    fn describe(&self) -> String {
        redact(&self.url)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.in_transaction {
            self.rollback();
        }
        let Some(c) = self.client.take().filter(|c| !c.is_closed()) else {
            return;
        };
        let mut pool = pool().lock().unwrap_or_else(|e| e.into_inner());
        let idle = pool.entry(self.url.clone()).or_default();
        if idle.len() < POOL_SIZE {
            idle.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_passwords() {
        assert_eq!(
            dollar_placeholders("UPDATE m SET a = ?2 WHERE id = ?1 AND b = ?12"),
            "UPDATE m SET a = $2 WHERE id = $1 AND b = $12"
        );
        assert_eq!(
            redact("postgres://me:s3cret@db:5432/attune"),
            "postgres://me:***@db:5432/attune"
        );
        assert_eq!(redact("postgres://db/attune"), "postgres://db/attune");
        assert_eq!(
            redact("host=db user=me password=s3cret"),
            "host=db user=me password=***"
        );
    }
}
