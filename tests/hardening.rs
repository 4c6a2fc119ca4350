//! What probing as a hostile client and as a careless user found (issue 12), each with the
//! command that showed it: runs owned by one process (a CLI run beside a server, a killed run
//! taken over once its lease expires, a cancelled job), the closed API surface, limits, checks
//! that agree across faces, and the panics.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use attune::testing::TinySpec;
use common::{agent, call_auth, tiny_model, Server};

const KEY: &str = "hardening-key";

fn dataset(dir: &Path) -> PathBuf {
    common::tiny_dataset(dir)
}

fn attune(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_attune"));
    c.args(args)
        .env("ATTUNE_HOME", home)
        .env("ATTUNE_CACHE", home.join("cache"))
        .env("HF_HOME", home.join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("ATTUNE_BASE");
    c
}

fn output(home: &Path, args: &[&str]) -> Output {
    attune(home, args).output().unwrap()
}

fn call(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    call_auth(method, url, body, &format!("Bearer {KEY}"))
}

fn upload(server: &Server, path: &Path) -> serde_json::Value {
    let (code, v) = upload_text(server, &std::fs::read_to_string(path).unwrap());
    assert_eq!(code, 201, "{v}");
    v
}

fn upload_text(server: &Server, content: &str) -> (u16, serde_json::Value) {
    let boundary = "hardeningboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"train.csv\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    let resp = agent()
        .post(server.url("/v1/datasets"))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .send(body.as_bytes())
        .unwrap();
    let code = resp.status().as_u16();
    (
        code,
        serde_json::from_str(&resp.into_body().read_to_string().unwrap()).unwrap(),
    )
}

fn wait_status(server: &Server, id: &str, want: &[&str], limit: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (code, m) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
        assert_eq!(code, 200, "{m}");
        if want.contains(&m["status"].as_str().unwrap_or("")) {
            return m;
        }
        assert!(start.elapsed() < limit, "job {id} stuck: {m}\n{}", server.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cli_run_beside_a_server_is_trained_once_by_the_cli() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let data = dataset(home.path());
    let server = Server::start(home.path(), &["--api-key", KEY], &[]);
    // Slow steps: the run lasts several of the job runner's 2 s looks at the registry.
    let out = attune(
        home.path(),
        &[
            "finetune",
            "--data",
            data.to_str().unwrap(),
            "--base",
            base.path().to_str().unwrap(),
            "--name",
            "clirun",
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--json",
        ],
    )
    .env("ATTUNE_FAULT_SLOW_STEP_MS", "400")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["model_id"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let log = server.log_text();
    assert!(
        !log.contains(&format!("job {id}")),
        "the server touched the CLI's run:\n{log}"
    );
    let m = wait_status(&server, id, &["READY"], Duration::from_secs(5));
    assert_eq!(m["name"], "clirun");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join(format!("models/{id}/manifest.json"))).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "READY");
}

#[test]
fn a_killed_cli_run_is_taken_over_by_a_server_and_completes() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let data = dataset(home.path());
    let mut cli = attune(
        home.path(),
        &[
            "finetune",
            "--data",
            data.to_str().unwrap(),
            "--base",
            base.path().to_str().unwrap(),
            "--epochs",
            "3",
            "--batch-size",
            "8",
        ],
    )
    .env("ATTUNE_FAULT_SLOW_STEP_MS", "300")
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Wait for the first epoch's checkpoint, then kill -9: no chance to give the lease up.
    let start = Instant::now();
    let partial = loop {
        let found = std::fs::read_dir(home.path().join("models")).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.join("checkpoints/LATEST").exists())
        });
        if let Some(p) = found {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    };
    cli.kill().unwrap();
    cli.wait().unwrap();
    let killed_at = Instant::now();
    let name = partial.file_name().unwrap().to_str().unwrap();
    let id = name.trim_end_matches(".partial").to_string();
    let server = Server::start(home.path(), &["--api-key", KEY], &[]);
    let started = format!("job {id}: starting");
    while !server.log_text().contains(&started) {
        assert!(killed_at.elapsed() < Duration::from_secs(60), "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The owner is a dead process of this machine: taken over without waiting for the lease
    // (30 s by default; registry/lease.rs tests an owner elsewhere, who is waited for).
    let waited = killed_at.elapsed();
    assert!(waited < Duration::from_secs(25), "taken over {waited:?} after the kill");
    let m = wait_status(&server, &id, &["READY", "FAILED"], Duration::from_secs(90));
    assert_eq!(m["status"], "READY", "{m}");
}

#[test]
fn a_running_job_is_cancelled_and_the_runner_goes_on() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let data = dataset(home.path());
    let server = Server::start(
        home.path(),
        &["--api-key", KEY, "--allow-model", &bm],
        &[("ATTUNE_FAULT_SLOW_STEP_MS", "300")],
    );
    let ds = upload(&server, &data);
    let job = serde_json::json!({"name": "long", "dataset_id": ds["id"], "base_model": bm, "settings": {"epochs": 20, "batch_size": 8}});
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let start = Instant::now();
    loop {
        let m = wait_status(&server, &id, &["FINETUNING"], Duration::from_secs(60));
        if m["progress"]["step"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, body) = call("DELETE", &server.url(&format!("/v1/finetuned-models/{id}")), None);
    assert_eq!(code, 202, "{body}");
    assert!(body["message"].as_str().unwrap().contains("CANCELLED"), "{body}");
    let asked = Instant::now();
    wait_status(&server, &id, &["CANCELLED"], Duration::from_secs(20));
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "cancelled in {:?}",
        asked.elapsed()
    );
    assert!(
        home.path()
            .join(format!("models/{id}.partial/checkpoints/LATEST"))
            .exists(),
        "the cancelled run keeps its checkpoint"
    );
    // The runner is still there for the next job, and the job is found by its nickname.
    let job = serde_json::json!({"name": "next", "dataset_id": ds["id"], "base_model": bm, "settings": {"epochs": 1, "batch_size": 8}});
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 201, "{created}");
    let next = created["id"].as_str().unwrap();
    wait_status(&server, next, &["READY"], Duration::from_secs(60));
    let (code, by_name) = call("GET", &server.url("/v1/finetuned-models/next"), None);
    assert_eq!((code, by_name["id"].as_str()), (200, Some(next)), "{by_name}");
    // A registry model is not a base a fine-tune may start from (the job runner would resolve
    // its name as a folder or Hub id), and a nickname cannot look like one.
    let job = serde_json::json!({"name": "x", "dataset_id": ds["id"], "base_model": "next"});
    let (code, body) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 404, "{body}");
    let job = serde_json::json!({"name": "evil-org/evil-model", "dataset_id": ds["id"], "base_model": bm});
    let (code, body) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("name:"), "{body}");
    let (code, _) = call("DELETE", &server.url(&format!("/v1/finetuned-models/{id}")), None);
    assert_eq!(code, 204);
    let (code, _) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
    assert_eq!(code, 404);
}

#[test]
fn the_api_names_only_registry_models_and_allowed_base_models() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let data = dataset(home.path());
    let server = Server::start(
        home.path(),
        &["--api-key", KEY, "--api-key", "app-key:inference", "--allow-model", &bm],
        &[],
    );
    // An inference key embeds, and may not start jobs or delete.
    let app = "Bearer app-key";
    let body = serde_json::json!({"texts": ["hi"], "model": bm});
    assert_eq!(call_auth("POST", &server.url("/v1/embed"), Some(body), app).0, 200);
    let (code, body) = call_auth(
        "POST",
        &server.url("/v1/finetuned-models"),
        Some(serde_json::json!({})),
        app,
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        call_auth("DELETE", &server.url("/v1/finetuned-models/x"), None, app).0,
        403
    );
    let embed = |model: &str| {
        call(
            "POST",
            &server.url("/v1/embed"),
            Some(serde_json::json!({"texts": ["cheap flight"], "model": model})),
        )
    };
    assert_eq!(embed(&bm).0, 200, "an allowed folder works");
    let etc = embed("/etc");
    let missing = embed("/no/such/folder");
    let file = embed("/etc/passwd");
    for (code, body) in [&etc, &missing, &file, &embed("../../x"), &embed("someorg/x")] {
        assert_eq!(*code, 404, "{body}");
        let m = body["message"].as_str().unwrap();
        for leak in ["config.json", "is a file", "cache", home.path().to_str().unwrap()] {
            assert!(!m.contains(leak), "{m}");
        }
    }
    // The same answer whether the path exists or not.
    let shape = |b: &serde_json::Value, spec: &str| b["message"].as_str().unwrap().replace(spec, "SPEC");
    assert_eq!(shape(&etc.1, "/etc"), shape(&missing.1, "/no/such/folder"));
    assert_eq!(shape(&etc.1, "/etc"), shape(&file.1, "/etc/passwd"));
    // Uploads answer without server paths; fine-tunes take allowed base models only.
    let ds = upload(&server, &data);
    assert!(!ds.to_string().contains(home.path().to_str().unwrap()), "{ds}");
    assert_eq!(ds["review"]["path"], "train.csv");
    // A missing column is named in the API's terms, with the upload's name.
    let (code, body) = upload_text(&server, "body,label\nhello,a\n");
    assert_eq!(code, 422, "{body}");
    let m = body["message"].as_str().unwrap();
    assert!(
        m.contains("text_column") && !m.contains("--text-column") && m.contains("train.csv"),
        "{m}"
    );
    assert!(!m.contains(home.path().to_str().unwrap()), "{m}");
    let job = serde_json::json!({"name": "x", "dataset_id": ds["id"], "base_model": "/etc"});
    let (code, body) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 404, "{body}");
}

#[test]
fn limits_and_settings_hold_on_every_face() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let data = dataset(home.path());
    let server = Server::start(home.path(), &["--api-key", KEY, "--allow-model", &bm], &[]);
    let ds = upload(&server, &data);
    let url = server.url("/v1/finetuned-models");
    for (settings, field) in [
        (serde_json::json!({"epochs": 0}), "settings.epochs"),
        (serde_json::json!({"epochs": 1_000_000_000_000u64}), "settings.epochs"),
        (serde_json::json!({"max_steps": 0}), "settings.max_steps"),
        (serde_json::json!({"learning_rate": 5}), "settings.learning_rate"),
        (serde_json::json!({"batch_size": 1}), "settings.batch_size"),
        (serde_json::json!({"dtype": "int8"}), "settings.dtype"),
    ] {
        let job = serde_json::json!({"name": "x", "dataset_id": ds["id"], "base_model": bm, "settings": settings});
        let (code, body) = call("POST", &url, Some(job));
        assert_eq!(code, 400, "{settings}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with(field), "{body}");
    }
    let (code, body) = call(
        "POST",
        &url,
        Some(serde_json::json!({"name": " ", "dataset_id": ds["id"]})),
    );
    assert_eq!(code, 400, "{body}");
    // The CLI refuses the same settings by their flags, before loading anything, leaving no
    // run behind.
    for (flag, value) in [
        ("--epochs", "0"),
        ("--max-steps", "0"),
        ("--learning-rate", "5"),
        ("--batch-size", "1"),
        ("--dtype", "int8"),
    ] {
        let out = output(
            home.path(),
            &[
                "finetune",
                "--data",
                data.to_str().unwrap(),
                "--base",
                "/no/such/model",
                flag,
                value,
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(flag), "{flag}: {err}");
    }
    let (_, list) = call("GET", &server.url("/v1/finetuned-models"), None);
    assert_eq!(list["models"].as_array().unwrap().len(), 0, "{list}");
    // Classify examples are capped like inputs.
    let classify = server.url("/v1/classify");
    let many: Vec<serde_json::Value> = (0..513)
        .map(|i| serde_json::json!({"text": format!("t {i}"), "label": if i % 2 == 0 { "a" } else { "b" }}))
        .collect();
    let (code, body) = call(
        "POST",
        &classify,
        Some(serde_json::json!({"inputs": ["x"], "model": bm, "examples": many})),
    );
    assert_eq!(code, 400, "{body}");
    let long = vec![
        serde_json::json!({"text": "x".repeat(20_001), "label": "a"}),
        serde_json::json!({"text": "y", "label": "a"}),
    ];
    let (code, body) = call(
        "POST",
        &classify,
        Some(serde_json::json!({"inputs": ["x"], "model": bm, "examples": long})),
    );
    assert_eq!(code, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("examples[0].text"), "{body}");
    // Other methods are JSON errors too; the scheme of the key is case-insensitive.
    let (code, body) = call("GET", &server.url("/v1/embed"), None);
    assert_eq!(code, 405);
    assert!(body["message"].is_string(), "{body}");
    let (code, _) = call_auth("GET", &server.url("/v1/models"), None, &format!("bearer {KEY}"));
    assert_eq!(code, 200);
}

#[test]
fn concurrent_first_requests_load_a_model_once() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let server = Server::start(home.path(), &["--api-key", KEY, "--allow-model", &bm], &[]);
    let url = server.url("/v1/embed");
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let (url, bm) = (url.clone(), bm.clone());
            std::thread::spawn(move || {
                call(
                    "POST",
                    &url,
                    Some(serde_json::json!({"texts": [format!("flight {i}")], "model": bm})),
                )
                .0
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let text = agent()
        .get(server.url("/metrics"))
        .header("Authorization", format!("Bearer {KEY}"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(text.lines().any(|l| l == "attune_model_loads_total 1"), "{text}");
    // Heads fitted on examples are kept per set of examples: other examples, another head.
    let examples = |a: &str, b: &str| {
        serde_json::json!([
            {"text": "cheap flight fare", "label": a}, {"text": "flight to boston", "label": a},
            {"text": "refund my card", "label": b}, {"text": "card payment cost", "label": b}
        ])
    };
    let predict = |ex: serde_json::Value| {
        let body = serde_json::json!({"inputs": ["cheap flight fare"], "model": bm, "examples": ex});
        let (code, v) = call("POST", &server.url("/v1/classify"), Some(body));
        assert_eq!(code, 200, "{v}");
        v["classifications"][0]["prediction"].as_str().unwrap().to_string()
    };
    assert_eq!(predict(examples("travel", "money")), "travel");
    assert_eq!(predict(examples("money", "travel")), "money");
    assert_eq!(predict(examples("travel", "money")), "travel");
}

/// A fine-tuned model folder with the tiny encoder and the given head.
fn model_with_head(dir: &Path, head: serde_json::Value) -> PathBuf {
    let base = tiny_model(&TinySpec::default());
    let m = dir.join("handmade");
    std::fs::create_dir_all(m.join("model")).unwrap();
    for f in common::files_under(base.path()) {
        let to = m.join("model").join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(base.path().join(&f), to).unwrap();
    }
    std::fs::write(m.join("head.json"), head.to_string()).unwrap();
    std::fs::write(m.join("manifest.json"), "{}").unwrap();
    m
}

#[test]
fn broken_heads_and_closed_pipes_are_errors_not_panics() {
    let home = tempfile::tempdir().unwrap();
    let empty = model_with_head(
        home.path(),
        serde_json::json!({"labels": [], "dim": 16, "weights": [], "bias": [], "temperature": 1.0}),
    );
    let out = output(home.path(), &["classify", "--model", empty.to_str().unwrap(), "hi"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("0 labels") && !err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&empty).unwrap();
    let cold = model_with_head(
        home.path(),
        serde_json::json!({"labels": ["a", "b"], "dim": 16, "weights": vec![0.1; 32], "bias": [0.0, 0.0], "temperature": 0.0}),
    );
    let out = output(home.path(), &["classify", "--model", cold.to_str().unwrap(), "hi"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("temperature") && !err.contains("NaN"), "{err}");
    // `attune models list --all | head -1`: the reader goes away; no panic.
    let mut child = attune(home.path(), &["models", "list", "--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

fn model_files(dir: &Path) -> (Vec<u8>, String) {
    (
        std::fs::read(dir.join("model/model.safetensors")).unwrap(),
        std::fs::read_to_string(dir.join("head.json")).unwrap(),
    )
}

#[test]
fn a_server_killed_mid_training_resumes_to_the_model_of_an_uninterrupted_job() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let data = dataset(home.path());
    let args = ["--api-key", KEY, "--allow-model", bm.as_str()];
    let server = Server::start(home.path(), &args, &[("ATTUNE_FAULT_SLOW_STEP_MS", "150")]);
    let ds = upload(&server, &data);
    let settings = serde_json::json!({"epochs": 3, "batch_size": 8, "seed": 5});
    let job =
        |name: &str| serde_json::json!({"name": name, "dataset_id": ds["id"], "base_model": bm, "settings": settings});
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job("killed")));
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let ckpt = home.path().join(format!("models/{id}.partial/checkpoints/LATEST"));
    let start = Instant::now();
    while !ckpt.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server); // kill -9
    let server = Server::start(home.path(), &args, &[]);
    let killed = wait_status(&server, &id, &["READY", "FAILED"], Duration::from_secs(90));
    assert_eq!(killed["status"], "READY", "{killed}");
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job("straight")));
    assert_eq!(code, 201, "{created}");
    let straight_id = created["id"].as_str().unwrap();
    let straight = wait_status(&server, straight_id, &["READY", "FAILED"], Duration::from_secs(90));
    assert_eq!(straight["status"], "READY", "{straight}");
    assert!(
        model_files(&home.path().join(format!("models/{id}")))
            == model_files(&home.path().join(format!("models/{straight_id}"))),
        "the resumed job's model is the uninterrupted job's, weight for weight"
    );
    assert_eq!(killed["metrics"], straight["metrics"]);
}

#[test]
fn a_crash_inside_the_registry_write_leaves_it_valid_and_resumes_to_the_same_model() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let data = dataset(home.path());
    let run = [
        "finetune",
        "--data",
        data.to_str().unwrap(),
        "--base",
        base.path().to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--seed",
        "9",
        "--json",
    ];
    // Dies between the folder's rename and the row's update.
    let out = attune(home.path(), &run)
        .env("ATTUNE_FAULT_ABORT_IN_COMPLETE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let listed = output(home.path(), &["models", "list", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "[]",
        "no model is listed half-written"
    );
    let all: serde_json::Value =
        serde_json::from_slice(&output(home.path(), &["models", "list", "--all", "--json"]).stdout).unwrap();
    assert_eq!(all[0]["status"], "FINETUNING");
    let id = all[0]["id"].as_str().unwrap().to_string();
    // The owner is dead: --resume takes the run at once and finishes it.
    let resumed = output(home.path(), &["finetune", "--resume", &id, "--json"]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let resumed: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    let straight = output(home.path(), &run);
    assert!(
        straight.status.success(),
        "{}",
        String::from_utf8_lossy(&straight.stderr)
    );
    let straight: serde_json::Value = serde_json::from_slice(&straight.stdout).unwrap();
    let dir = |v: &serde_json::Value| PathBuf::from(v["path"].as_str().unwrap());
    assert!(
        model_files(&dir(&resumed)) == model_files(&dir(&straight)),
        "the same model"
    );
    let manifest = attune::finetune::Manifest::read(&dir(&resumed)).unwrap();
    assert_eq!(manifest.status, attune::registry::Status::Ready);
    assert!(manifest.result.is_some_and(|r| r.seed == 9));
    assert_eq!(resumed["metrics"], straight["metrics"]);
}

#[test]
fn a_file_of_ten_thousand_labels_is_refused_briefly_before_any_model_loads() {
    let home = tempfile::tempdir().unwrap();
    let mut csv = String::from("text,label\n");
    for i in 0..10_000 {
        csv.push_str(&format!("text number {i},label-{i}\n"));
    }
    let data = home.path().join("many.csv");
    std::fs::write(&data, csv).unwrap();
    // A base model that does not exist: the review must not get as far as loading it.
    let out = output(
        home.path(),
        &["review", "--data", data.to_str().unwrap(), "--base", "/no/such/model"],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success());
    assert!(
        stderr.contains("blocking") && !stderr.contains("could not find model"),
        "{stderr}"
    );
    assert!(stdout.contains("and 9950 more labels"), "{stdout}");
    assert!(
        stdout.len() + stderr.len() < 20_000,
        "{} bytes",
        stdout.len() + stderr.len()
    );
    let out = output(
        home.path(),
        &["finetune", "--data", data.to_str().unwrap(), "--base", "/no/such/model"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.len() < 5_000 && stderr.contains("at least 2"),
        "{stderr}"
    );
}
