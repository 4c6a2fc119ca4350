//! A real S3-compatible server for the cluster tests: `s3s-fs` from crates.io (a file-system
//! backed S3 server that checks SigV4 signatures), which `.ci/run` installs into `.ci-tools/`.
//! Started on a free port with its own keys and a bucket, stopped when dropped.
//!
//! Without it the tests that need it skip with the reason, unless `ATTUNE_S3_REQUIRED=1` (CI).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "attune-test";
const ACCESS: &str = "attune-access";
const SECRET: &str = "attune-secret-key";

pub struct S3 {
    child: Option<Child>,
    bin: PathBuf,
    pub root: tempfile::TempDir,
    pub port: u16,
}

fn binary() -> Option<PathBuf> {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci-tools/bin/s3s-fs");
    if local.exists() {
        return Some(local);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.exists())
}

impl S3 {
    pub fn start() -> Option<S3> {
        let Some(bin) = binary() else {
            if std::env::var("ATTUNE_S3_REQUIRED").as_deref() == Ok("1") {
                panic!("an S3 server is required here (ATTUNE_S3_REQUIRED=1) but s3s-fs was not found");
            }
            eprintln!(
                "SKIPPED: no s3s-fs; `cargo install s3s-fs --version 0.14.1 --features binary --locked --root .ci-tools` to run this test"
            );
            return None;
        };
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s3 = S3 {
            child: None,
            bin,
            root,
            port,
        };
        s3.up();
        Some(s3)
    }

    pub fn up(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The variables a process needs to use this server as `ATTUNE_STORE=s3://BUCKET/prefix`.
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("ATTUNE_STORE", format!("s3://{BUCKET}/{prefix}")),
            ("AWS_ACCESS_KEY_ID", ACCESS.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Where the server keeps object `key` of the bucket (s3s-fs stores each object as a file).
    pub fn object(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.down();
    }
}
