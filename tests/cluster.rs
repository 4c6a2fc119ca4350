//! Cluster mode (issue 15) with the real parts: a PostgreSQL server and an S3 server (s3s-fs)
//! started here, or a store folder every process shares (`ATTUNE_STORE=file://`, as NFS would
//! be); `attune serve --no-worker` replicas and `attune worker` processes, each on a home of its
//! own. Skips without the servers, except under `ATTUNE_POSTGRES_REQUIRED=1` and
//! `ATTUNE_S3_REQUIRED=1` (CI).

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use attune::registry::{Backends, Registry, RunMetrics, Status};
use attune::testing::TinySpec;
use common::postgres::Postgres;
use common::s3::S3;
use common::{tiny_model, Server};

const KEY: &str = "cluster-key";

/// One cluster's shared settings: its database and its store.
struct Cluster {
    pg: Postgres,
    url: String,
    store: tempfile::TempDir,
    /// Object storage instead of the shared folder, when the test asks for it.
    s3: Option<S3>,
    base: tempfile::TempDir,
}

impl Cluster {
    fn start(name: &str) -> Option<Cluster> {
        let pg = Postgres::start()?;
        let url = pg.database(name);
        Some(Cluster {
            pg,
            url,
            store: tempfile::tempdir().unwrap(),
            s3: None,
            base: tiny_model(&TinySpec::default()),
        })
    }

    /// PostgreSQL and an S3 server; every process keeps its own home.
    fn start_s3(name: &str) -> Option<Cluster> {
        let s3 = S3::start()?;
        let mut c = Cluster::start(name)?;
        c.s3 = Some(s3);
        Some(c)
    }

    fn store_url(&self) -> String {
        format!("file://{}", self.store.path().display())
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("ATTUNE_DATABASE_URL", self.url.clone()),
            // A short lease: a killed worker's run is free again within seconds.
            ("ATTUNE_LEASE_SECONDS", "4".into()),
        ];
        match &self.s3 {
            Some(s3) => env.extend(s3.env("team")),
            None => env.push(("ATTUNE_STORE", self.store_url())),
        }
        env
    }

    fn base(&self) -> String {
        self.base.path().to_str().unwrap().to_string()
    }

    /// `attune serve --no-worker` with a home of its own (only the database and store are shared).
    fn server(&self, home: &Path) -> Server {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::start(
            home,
            &["--no-worker", "--api-key", KEY, "--allow-model", &self.base()],
            &env,
        )
    }

    fn worker(&self, home: &Path, extra: &[(&str, &str)]) -> Worker {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_attune"));
        cmd.arg("worker")
            .env("ATTUNE_HOME", home)
            .env("HF_HUB_OFFLINE", "1")
            .env("ATTUNE_CACHE", home.join("cache"))
            .env("HF_HOME", home.join("hf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l2, stderr) = (log.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        let w = Worker { child, log };
        w.wait_for("taking jobs from", Duration::from_secs(30));
        w
    }

    fn count(&self, sql: &str) -> i64 {
        Postgres::scalar(&self.url, sql)
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    }
}

struct Worker {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    fn text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn wait_for(&self, needle: &str, limit: Duration) {
        let start = Instant::now();
        while !self.text().contains(needle) {
            assert!(
                start.elapsed() < limit,
                "worker never said {needle:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    common::call_auth(method, url, body, &format!("Bearer {KEY}"))
}

fn upload(server: &Server, path: &Path) -> String {
    let boundary = "clusterboundary";
    let content = std::fs::read_to_string(path).unwrap();
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"train.csv\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    let resp = common::agent()
        .post(server.url("/v1/datasets"))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let v: serde_json::Value = serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap();
    v["id"].as_str().unwrap().to_string()
}

fn submit(server: &Server, name: &str, dataset: &str, base: &str, seed: u64) -> String {
    let job = serde_json::json!({
        "name": name,
        "dataset_id": dataset,
        "base_model": base,
        "settings": {"epochs": 3, "batch_size": 8, "seed": seed},
    });
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

fn wait_ready(server: &Server, id: &str, limit: Duration, logs: &dyn Fn() -> String) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (code, m) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
        assert_eq!(code, 200, "{m}");
        match m["status"].as_str() {
            Some("READY") => return m,
            Some("FAILED") | Some("CANCELLED") => panic!("job {id}: {m}\n{}", logs()),
            _ => {}
        }
        assert!(start.elapsed() < limit, "job {id} stuck: {m}\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits (a minute at most) for a run's first checkpoint pointer, wherever `latest` is.
fn wait_for_checkpoint(latest: &Path, worker: &Worker) {
    let start = Instant::now();
    while !latest.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoint at {}:\n{}",
            latest.display(),
            worker.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn model_files(dir: &Path) -> (Vec<u8>, String) {
    (
        std::fs::read(dir.join("model/model.safetensors")).unwrap(),
        std::fs::read_to_string(dir.join("head.json")).unwrap(),
    )
}

fn fake_model_files(dir: &Path) {
    std::fs::create_dir_all(dir.join("model")).unwrap();
    for f in [
        "model/config.json",
        "model/model.safetensors",
        "head.json",
        "manifest.json",
    ] {
        std::fs::write(dir.join(f), "{}").unwrap();
    }
}

fn metrics() -> RunMetrics {
    let labels = ["a".to_string(), "b".to_string()];
    let m = attune::eval::Metrics::compute(
        &labels,
        &[0, 1],
        &[vec![0.9, 0.1], vec![0.2, 0.8]],
        &[vec![1.0, 0.0], vec![0.0, 1.0]],
    )
    .unwrap();
    RunMetrics {
        baseline: m.clone(),
        finetuned: m,
        selected: None,
        reason: None,
        rows: None,
    }
}

#[test]
fn the_postgres_registry_claims_each_job_once_and_keeps_leases() {
    let Some(c) = Cluster::start("registry") else { return };
    let backends = Backends::parse(Some(&c.url), Some(&c.store_url())).unwrap();
    let home = tempfile::tempdir().unwrap();
    let reg = Registry::open_with(home.path(), &backends).unwrap();
    let params = serde_json::json!({"epochs": 1});
    let ids: Vec<String> = (0..24)
        .map(|i| reg.enqueue(Some(&format!("job{i}")), "base", "sha", &params).unwrap())
        .collect();
    assert!(
        reg.partial_dir(&ids[0]).starts_with(c.store.path()),
        "run folders live in the shared store"
    );
    // Six workers, each with its own connection, claim until the queue is empty. They start
    // claiming together: on a loaded machine the first worker to connect had drained all 24
    // jobs before another had connected, which says nothing about the claims themselves.
    let ready = std::sync::Barrier::new(6);
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|w| {
                let (home, backends, ready) = (home.path().to_path_buf(), backends.clone(), &ready);
                s.spawn(move || {
                    let reg = Registry::open_with(&home, &backends).unwrap();
                    ready.wait();
                    let mut mine = Vec::new();
                    while let Some(id) = reg.claim_next(&format!("worker-{w}")).unwrap() {
                        mine.push(id);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&String> = claimed.iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 24, "every job claimed: {claimed:?}");
    assert_eq!(unique.len(), 24, "no job claimed twice: {claimed:?}");
    assert!(
        claimed.iter().filter(|m| !m.is_empty()).count() > 1,
        "the workers shared the queue: {claimed:?}"
    );
    let stats = reg.queue_stats(60_000).unwrap();
    assert_eq!((stats.queued, stats.training, stats.expired), (0, 24, 0));

    // A live lease is kept from everyone else; a cancel reaches its owner at its renewal.
    let (id, owner) = {
        let w = claimed.iter().position(|m| !m.is_empty()).unwrap();
        (claimed[w][0].clone(), format!("worker-{w}"))
    };
    let e = reg.claim(&id, "intruder", false).unwrap_err();
    assert!(matches!(e, attune::Error::Leased { .. }), "{e}");
    assert_eq!(reg.renew(&id, "intruder").unwrap(), attune::registry::Renewal::Lost);
    assert!(!reg.request_cancel(&id).unwrap(), "a live run is asked, not stopped");
    assert_eq!(
        reg.renew(&id, &owner).unwrap(),
        attune::registry::Renewal::CancelRequested
    );
    reg.cancelled(&id, &owner).unwrap();
    assert_eq!(reg.get_any(&id).unwrap().unwrap().status, Status::Cancelled);

    // Completing needs the lease; the model is then listed and found, from the store.
    let done = &claimed.iter().flatten().find(|i| **i != id).unwrap().clone();
    let holder = (0..6)
        .map(|w| format!("worker-{w}"))
        .find(|w| claimed[w[7..].parse::<usize>().unwrap()].contains(done))
        .unwrap();
    fake_model_files(&reg.partial_dir(done));
    let mut reg = reg;
    assert!(matches!(
        reg.complete(done, "intruder", &metrics()).unwrap_err(),
        attune::Error::Leased { .. }
    ));
    let path = reg.complete(done, &holder, &metrics()).unwrap();
    assert!(path.starts_with(c.store.path()) && path.join("head.json").exists());
    let found = reg.find(done).unwrap().unwrap();
    assert_eq!(found.status, Status::Ready);
    assert_eq!(reg.list(false).unwrap().len(), 1);

    // A lease that runs out (its worker died elsewhere) is taken over once, and counted.
    let stale = claimed.iter().flatten().find(|i| *i != &id && *i != done).unwrap();
    Postgres::scalar(
        &c.url,
        &format!("UPDATE models SET lease_expires = 1 WHERE id = '{stale}' RETURNING id"),
    )
    .unwrap();
    assert_eq!(reg.queue_stats(60_000).unwrap().expired, 1);
    assert_eq!(reg.claim_next("rescuer").unwrap().as_deref(), Some(stale.as_str()));
    let stats = reg.queue_stats(60_000).unwrap();
    assert_eq!((stats.expired, stats.takeovers), (0, 1));
    reg.remove(done).unwrap();
    assert!(!path.exists());
}

#[test]
fn two_servers_and_two_workers_train_four_jobs_two_at_a_time() {
    let Some(c) = Cluster::start_s3("fourjobs") else { return };
    let homes: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers = [c.server(homes[0].path()), c.server(homes[1].path())];
    let slow = [("ATTUNE_FAULT_SLOW_STEP_MS", "120")];
    let workers = [c.worker(homes[2].path(), &slow), c.worker(homes[3].path(), &slow)];
    let logs = || {
        format!(
            "{}\n{}\n{}",
            workers[0].text(),
            workers[1].text(),
            servers[0].log_text()
        )
    };
    let data = common::tiny_dataset(homes[0].path());
    let dataset = upload(&servers[0], &data);
    let ids: Vec<String> = (0..4)
        .map(|i| submit(&servers[i % 2], &format!("job{i}"), &dataset, &c.base(), i as u64))
        .collect();
    // Watch the shared table: never more than two runs train at once, and two do.
    let mut most = 0;
    let start = Instant::now();
    while c.count("SELECT count(*) FROM models WHERE status = 'READY'") < 4 {
        most = most.max(c.count("SELECT count(*) FROM models WHERE status = 'FINETUNING'"));
        assert!(start.elapsed() < Duration::from_secs(240), "not done:\n{}", logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(most, 2, "two workers train two jobs at a time");
    for w in &workers {
        assert!(w.text().contains("READY in"), "each worker trained:\n{}", logs());
    }
    for id in &ids {
        wait_ready(&servers[1], id, Duration::from_secs(10), &logs);
        let answers: Vec<serde_json::Value> = servers.iter().map(|s| classify(s, id)).collect();
        assert_eq!(answers[0], answers[1], "both replicas answer alike for {id}");
    }
    let (code, m) = call("GET", &servers[0].url("/metrics"), None);
    assert_eq!(code, 200);
    let m = m.as_str().unwrap().to_string();
    assert!(
        m.contains("attune_jobs_queued 0") && m.contains("attune_worker_training{worker="),
        "{m}"
    );
    let (code, h) = call("GET", &servers[1].url("/health"), None);
    assert_eq!((code, h["status"].as_str()), (200, Some("ok")), "{h}");
}

#[test]
fn a_killed_worker_is_resumed_by_the_other_to_the_uninterrupted_model() {
    let Some(c) = Cluster::start("killworker") else { return };
    let homes: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let server = c.server(homes[0].path());
    let data = common::tiny_dataset(homes[0].path());
    let dataset = upload(&server, &data);
    let slow = [("ATTUNE_FAULT_SLOW_STEP_MS", "150")];
    let mut first = c.worker(homes[1].path(), &slow);
    let id = submit(&server, "killed", &dataset, &c.base(), 7);
    let ckpt = c.store.path().join(format!("models/{id}.partial/checkpoints/LATEST"));
    wait_for_checkpoint(&ckpt, &first);
    first.child.kill().unwrap(); // SIGKILL: no chance to give the lease up
    first.child.wait().unwrap();
    let killed_at = Instant::now();
    let second = c.worker(homes[2].path(), &[]);
    let logs = || format!("{}\n{}", second.text(), server.log_text());
    second.wait_for(&format!("job {id}: starting"), Duration::from_secs(30));
    let resumed = wait_ready(&server, &id, Duration::from_secs(120), &logs);
    assert!(killed_at.elapsed() < Duration::from_secs(90));
    assert_eq!(c.count(&format!("SELECT takeovers FROM models WHERE id = '{id}'")), 1);
    // The same job straight through, on the worker still up.
    let straight_id = submit(&server, "straight", &dataset, &c.base(), 7);
    let straight = wait_ready(&server, &straight_id, Duration::from_secs(120), &logs);
    let dir = |id: &str| c.store.path().join(format!("models/{id}"));
    assert!(
        model_files(&dir(&id)) == model_files(&dir(&straight_id)),
        "the resumed model is the uninterrupted one, weight for weight"
    );
    assert_eq!(resumed["metrics"], straight["metrics"]);
}

#[test]
fn a_database_restart_mid_run_loses_nothing() {
    let Some(mut c) = Cluster::start("restart") else { return };
    let homes: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let server = c.server(homes[0].path());
    let data = common::tiny_dataset(homes[0].path());
    let dataset = upload(&server, &data);
    let worker = c.worker(homes[1].path(), &[("ATTUNE_FAULT_SLOW_STEP_MS", "150")]);
    let id = submit(&server, "restarted", &dataset, &c.base(), 3);
    worker.wait_for(&format!("job {id}: starting"), Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        c.count("SELECT count(*) FROM models WHERE status = 'FINETUNING'"),
        1,
        "the database goes away mid-run"
    );
    c.pg.down();
    // While it is away the API says so (503), and the run goes on training.
    let (code, h) = call("GET", &server.url("/health"), None);
    assert_eq!(code, 503, "{h}");
    assert!(h["reason"].as_str().unwrap_or("").contains("registry database"), "{h}");
    let (code, e) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
    assert_eq!(code, 503, "{e}");
    std::thread::sleep(Duration::from_millis(1500));
    c.pg.up();
    let logs = || format!("{}\n{}\n{}", worker.text(), server.log_text(), c.pg.log());
    let m = wait_ready(&server, &id, Duration::from_secs(120), &logs);
    assert!(m["metrics"].is_object(), "{m}");
    assert!(!worker.text().contains("FAILED"), "{}", logs());
    assert_eq!(
        c.count("SELECT count(*) FROM models"),
        1,
        "nothing lost, nothing doubled"
    );
}

#[test]
fn an_unreachable_store_or_database_is_a_clear_error() {
    let Some(c) = Cluster::start("unreachable") else { return };
    let home = tempfile::tempdir().unwrap();
    // The store is a file, not a folder: nothing can be written there.
    let blocked = home.path().join("not-a-folder");
    std::fs::write(&blocked, "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .arg("worker")
        .env("ATTUNE_HOME", home.path())
        .env("ATTUNE_DATABASE_URL", &c.url)
        .env("ATTUNE_STORE", format!("file://{}", blocked.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not-a-folder"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A database nobody answers at: named, without its password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["models", "list"])
        .env("ATTUNE_HOME", home.path())
        .env(
            "ATTUNE_DATABASE_URL",
            format!("postgres://me:s3cret@127.0.0.1:{port}/x"),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("registry database postgres://me:***@127.0.0.1") && !err.contains("s3cret"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["models", "list"])
        .env("ATTUNE_HOME", home.path())
        .env("ATTUNE_STORE", "gs://bucket/prefix")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ATTUNE_STORE"), "{err}");
}

fn classify(server: &Server, id: &str) -> serde_json::Value {
    let texts = serde_json::json!(["flight fare airport", "card payment refund", "password reset my"]);
    let (code, v) = call(
        "POST",
        &server.url("/v1/classify"),
        Some(serde_json::json!({"model": id, "inputs": texts})),
    );
    assert_eq!(code, 200, "{v}");
    v["classifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!([c["prediction"], c["confidences"]]))
        .collect()
}

#[test]
fn object_storage_carries_datasets_runs_and_models_between_machines() {
    let Some(c) = Cluster::start_s3("objects") else { return };
    let s3 = c.s3.as_ref().unwrap();
    // Five "machines": nothing but the database and the bucket is shared.
    let homes: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let server = c.server(homes[0].path());
    let data = common::tiny_dataset(homes[0].path());
    let dataset = upload(&server, &data);
    assert!(s3.object(&format!("team/datasets/{dataset}/dataset.json")).exists());
    let mut first = c.worker(homes[1].path(), &[("ATTUNE_FAULT_SLOW_STEP_MS", "150")]);
    let id = submit(&server, "moved", &dataset, &c.base(), 11);
    // The first checkpoint reaches the bucket; then the worker dies without a word.
    let latest = s3.object(&format!("team/models/{id}.partial/checkpoints/LATEST"));
    wait_for_checkpoint(&latest, &first);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let second = c.worker(homes[2].path(), &[]);
    let logs = || format!("{}\n{}", second.text(), server.log_text());
    let resumed = wait_ready(&server, &id, Duration::from_secs(120), &logs);
    assert!(
        s3.object(&format!("team/models/{id}/manifest.json")).exists(),
        "the finished model is in the store"
    );
    assert!(
        !s3.object(&format!("team/models/{id}.partial/checkpoints/LATEST"))
            .exists(),
        "its checkpoints left the store"
    );
    let straight_id = submit(&server, "straight", &dataset, &c.base(), 11);
    let straight = wait_ready(&server, &straight_id, Duration::from_secs(120), &logs);
    assert_eq!(resumed["metrics"], straight["metrics"]);
    // A replica on a machine that has seen none of it loads both models from the bucket.
    let other = c.server(homes[3].path());
    assert_eq!(classify(&server, &id), classify(&other, &id));
    let dir = |id: &str| homes[3].path().join(format!("models/{id}"));
    classify(&other, &straight_id);
    assert!(
        model_files(&dir(&id)) == model_files(&dir(&straight_id)),
        "the model resumed on another machine is the uninterrupted one, weight for weight"
    );
    let (code, h) = call("GET", &other.url("/health"), None);
    assert_eq!((code, h["status"].as_str()), (200, Some("ok")), "{h}");
    // Deleting removes it from the bucket too.
    let (code, _) = call(
        "DELETE",
        &other.url(&format!("/v1/finetuned-models/{straight_id}")),
        None,
    );
    assert_eq!(code, 204);
    assert!(!s3.object(&format!("team/models/{straight_id}/manifest.json")).exists());
}

#[test]
fn a_store_that_goes_away_never_leaves_a_half_model_ready() {
    let Some(mut c) = Cluster::start_s3("storedown") else {
        return;
    };
    let homes: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let server = c.server(homes[0].path());
    let data = common::tiny_dataset(homes[0].path());
    let dataset = upload(&server, &data);
    let worker = c.worker(homes[1].path(), &[("ATTUNE_FAULT_SLOW_STEP_MS", "150")]);
    let id = submit(&server, "stranded", &dataset, &c.base(), 5);
    let latest =
        c.s3.as_ref()
            .unwrap()
            .object(&format!("team/models/{id}.partial/checkpoints/LATEST"));
    wait_for_checkpoint(&latest, &worker);
    c.s3.as_mut().unwrap().down();
    let (code, h) = call("GET", &server.url("/health"), None);
    assert_eq!(code, 503, "{h}");
    assert!(h["reason"].as_str().unwrap_or("").contains("model store s3://"), "{h}");
    // Training ends, but the model cannot be made public: FAILED with the reason, never READY.
    let start = Instant::now();
    let m = loop {
        let (code, m) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
        assert_eq!(code, 200, "{m}");
        if m["status"] != "FINETUNING" && m["status"] != "QUEUED" {
            break m;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{m}\n{}", worker.text());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(m["status"], "FAILED", "{m}");
    assert!(m["error"].as_str().unwrap_or("").contains("model store"), "{m}");
    assert!(!c
        .s3
        .as_ref()
        .unwrap()
        .object(&format!("team/models/{id}/manifest.json"))
        .exists());
    // Once it is back, an explicit resume finishes the run from its checkpoint.
    c.s3.as_mut().unwrap().up();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_attune"));
    cmd.args(["finetune", "--resume", &id, "--json"])
        .env("ATTUNE_HOME", homes[1].path())
        .env("HF_HUB_OFFLINE", "1");
    for (k, v) in c.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done = wait_ready(&server, &id, Duration::from_secs(10), &|| worker.text());
    assert!(done["metrics"].is_object());
}
