//! A real PostgreSQL server for the cluster tests, from the machine's packages (Debian's
//! `postgresql`, which `.ci/run` installs): a new cluster in a temporary folder on a free port,
//! with trust authentication on loopback, stopped when dropped. As root, the server runs as the
//! `postgres` user the package made (PostgreSQL refuses to run as root).
//!
//! Without PostgreSQL the tests that need it skip with the reason, unless
//! `ATTUNE_POSTGRES_REQUIRED=1` (CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    child: Option<Child>,
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    run_as: Option<String>,
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("initdb").exists() {
            return Some(p);
        }
    }
    // Debian keeps the server's programs out of PATH, one folder per major version.
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Skips (returns `None`, saying why) or fails under `ATTUNE_POSTGRES_REQUIRED=1`.
fn unavailable(why: &str) -> Option<Postgres> {
    if std::env::var("ATTUNE_POSTGRES_REQUIRED").as_deref() == Ok("1") {
        panic!("PostgreSQL is required here (ATTUNE_POSTGRES_REQUIRED=1) but {why}");
    }
    eprintln!("SKIPPED: {why}; install Debian's postgresql package to run this test");
    None
}

impl Postgres {
    /// Starts a fresh server, or `None` (skip) where PostgreSQL is not installed.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            return unavailable("no PostgreSQL server programs (initdb) were found");
        };
        let run_as = is_root().then(|| "postgres".to_string());
        if run_as.is_some()
            && Command::new("id")
                .arg("postgres")
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        {
            return unavailable("running as root, and there is no postgres user to run the server as");
        }
        let dir = tempfile::tempdir().unwrap();
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .args(["-R", &format!("{user}:"), dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let mut pg = Postgres {
            child: None,
            dir,
            bin,
            port: free_port(),
            run_as,
        };
        let out = pg
            .command("initdb")
            .args([
                "-D",
                pg.data().to_str().unwrap(),
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        pg.up();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={user}"),
                    &format!("--regid={user}"),
                    "--init-groups",
                    "--",
                    path.to_str().unwrap(),
                ]);
                c
            }
            None => Command::new(path),
        }
    }

    /// Starts the server on its port and waits until it takes connections.
    pub fn up(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = self
            .command("postgres")
            .args(["-D", self.data().to_str().unwrap(), "-p", &self.port.to_string()])
            .args([
                "-k",
                self.dir.path().to_str().unwrap(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if ::postgres::Client::connect(&self.url("postgres"), ::postgres::NoTls).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "PostgreSQL did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (a fast shutdown: clients are disconnected) and waits for it.
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        let mut c = ::postgres::Client::connect(&self.url("postgres"), ::postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    /// One statement's first column of the first row, as text (a test's look at the tables).
    pub fn scalar(url: &str, sql: &str) -> Option<String> {
        let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).ok()?;
        let row = c.simple_query(sql).ok()?.into_iter().find_map(|m| match m {
            ::postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })?;
        row
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // An immediate shutdown: nothing of a test's cluster needs to be kept.
            let _ = Command::new("kill").args(["-QUIT", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}
