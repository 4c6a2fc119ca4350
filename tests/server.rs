//! The HTTP API, with the real server started on a loopback port: every route, auth, limits, bad
//! input, a whole upload -> fine-tune -> READY -> classify cycle, parity with the CLI, and a
//! stopped job that resumes after a restart.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use attune::testing::TinySpec;
use common::Server;

const KEY: &str = "test-key-123";

/// The test server: the real binary, with a key and a small body limit, so the oversized body
/// of the limits test fits in the loopback socket buffers and the client reads the 413 instead
/// of a reset. The tests name tiny models by folder; `tests/hardening.rs` tests the closed
/// surface that a server without `--allow-any-model` keeps.
fn start_server(home: &Path, extra_env: &[(&str, &str)]) -> Server {
    Server::start(
        home,
        &["--api-key", KEY, "--max-body-kb", "64", "--allow-any-model"],
        extra_env,
    )
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// (status, JSON body) of a request with the key.
fn call(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    call_with(method, url, body, Some(KEY))
}

fn call_with(method: &str, url: &str, body: Option<serde_json::Value>, key: Option<&str>) -> (u16, serde_json::Value) {
    let a = agent();
    let auth = key.map(|k| format!("Bearer {k}"));
    let resp = match (method, body) {
        ("GET", _) => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        ("DELETE", _) => {
            let mut r = a.delete(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        (_, b) => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.send(b.map(|b| b.to_string()).unwrap_or_default())
        }
    }
    .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn post_raw(url: &str, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    // A server refusing a large body may close before the client has sent it all; try again.
    let mut tries = 0;
    let resp = loop {
        let r = agent()
            .post(url)
            .header("Authorization", format!("Bearer {KEY}"))
            .header("Content-Type", content_type)
            .send(&body[..]);
        match r {
            Ok(r) => break r,
            Err(e) if tries < 3 => {
                tries += 1;
                eprintln!("retrying after {e}");
            }
            Err(e) => panic!("{url}: {e}"),
        }
    };
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn upload(server: &Server, name: &str, content: &str) -> (u16, serde_json::Value) {
    let boundary = "attuneboundary7";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    post_raw(
        &server.url("/v1/datasets"),
        &format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

fn dataset_csv() -> String {
    let mut csv = String::from("text,label\n");
    for i in 0..12 {
        csv.push_str(&format!(
            "cheap flight fare {i},travel\nrefund card payment {i},money\nreset my password {i},login\n"
        ));
    }
    csv
}

fn wait_status(server: &Server, id: &str, want: &[&str], limit: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (code, m) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
        assert_eq!(code, 200, "{m}");
        if want.contains(&m["status"].as_str().unwrap_or("")) {
            return m;
        }
        assert!(start.elapsed() < limit, "job {id} stuck: {m}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_route_auth_limits_and_a_whole_finetune_cycle() {
    let base_model = common::tiny_model(&TinySpec::default());
    let bm = base_model.path().to_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let server = start_server(home.path(), &[]);

    // Health needs no key; everything else does.
    let (code, body) = call_with("GET", &server.url("/health"), None, None);
    assert_eq!((code, body["status"].as_str()), (200, Some("ok")));

    // The catalogue of bases, each marked allowed (this server allows any model).
    let (code, body) = call("GET", &server.url("/v1/bases"), None);
    assert_eq!(code, 200, "{body}");
    let bases = body["bases"].as_array().unwrap();
    let find = |name: &str| bases.iter().find(|b| b["name"] == name).unwrap();
    assert!(bases.iter().all(|b| b["allowed"] == true), "{body}");
    assert_eq!(find("mpnet")["family"], "MPNet");
    assert_eq!(find("mpnet")["hub_id"], "sentence-transformers/all-mpnet-base-v2");
    assert_eq!(find("multilingual-minilm")["multilingual"], true);
    let req = serde_json::json!({"texts": ["cheap flight"], "model": bm});
    let (code, body) = call_with("POST", &server.url("/v1/embed"), Some(req.clone()), None);
    assert_eq!(code, 401);
    assert!(body["message"].as_str().unwrap().contains("Authorization: Bearer"));
    let (code, body) = call_with("POST", &server.url("/v1/embed"), Some(req.clone()), Some("wrong"));
    assert_eq!(code, 401);
    assert!(body["message"].as_str().unwrap().contains("wrong"));

    // Embed: equal to `attune embed` within 1e-6.
    let texts = ["cheap flight to boston", "a", "refund my card payment please"];
    let (code, body) = call(
        "POST",
        &server.url("/v1/embed"),
        Some(serde_json::json!({"texts": texts, "model": bm})),
    );
    assert_eq!(code, 200, "{body}");
    let api: Vec<Vec<f32>> = serde_json::from_value(body["embeddings"].clone()).unwrap();
    let cli = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["embed", "--model", &bm])
        .args(texts)
        .output()
        .unwrap();
    let cli: Vec<Vec<f32>> = String::from_utf8(cli.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_value(serde_json::from_str::<serde_json::Value>(l).unwrap()["embedding"].clone()).unwrap()
        })
        .collect();
    for (a, b) in api.iter().zip(&cli) {
        assert!(common::max_abs_diff(a, b) <= 1e-6);
    }
    assert_eq!(body["meta"]["dimensions"], 16);

    // Embedding types.
    let (code, body) = call(
        "POST",
        &server.url("/v1/embed"),
        Some(
            serde_json::json!({"texts": texts, "model": bm, "embedding_types": ["float", "int8", "ubinary", "binary", "uint8"]}),
        ),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["embeddings"]["int8"][0].as_array().unwrap().len(), 16);
    assert_eq!(body["embeddings"]["ubinary"][0].as_array().unwrap().len(), 2);
    let f = body["embeddings"]["float"][0][0].as_f64().unwrap();
    let q = body["embeddings"]["int8"][0][0].as_f64().unwrap();
    assert!((f * 127.0 - q).abs() <= 0.5 + 1e-6);

    // OpenAI's shape.
    let (code, body) = call(
        "POST",
        &server.url("/v1/embeddings"),
        Some(serde_json::json!({"input": "cheap flight to boston", "model": bm})),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["index"], 0);
    let oa: Vec<f32> = serde_json::from_value(body["data"][0]["embedding"].clone()).unwrap();
    assert!(common::max_abs_diff(&oa, &cli[0]) <= 1e-6);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // Limits and bad input: each a 4xx with a message.
    let many: Vec<String> = (0..97).map(|i| format!("t{i}")).collect();
    let cases = [
        (serde_json::json!({"texts": many, "model": bm}), 400, "at most 96"),
        (serde_json::json!({"texts": [], "model": bm}), 400, "empty"),
        (
            serde_json::json!({"texts": ["x".repeat(20_001)], "model": bm}),
            422,
            "characters",
        ),
        (
            serde_json::json!({"texts": "not a list", "model": bm}),
            422,
            "expected fields",
        ),
        (
            serde_json::json!({"texts": ["hi"], "model": "acme/no-such-model"}),
            404,
            "could not find model",
        ),
        (
            serde_json::json!({"texts": ["flight ".repeat(40)], "model": bm, "truncate": "NONE"}),
            422,
            "tokens",
        ),
    ];
    for (req, want, needle) in cases {
        let (code, body) = call("POST", &server.url("/v1/embed"), Some(req.clone()));
        assert_eq!(code, want, "{req}: {body}");
        let msg = body["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{req}: {msg}");
    }
    let (code, body) = post_raw(&server.url("/v1/embed"), "application/json", b"{not json".to_vec());
    assert_eq!(code, 400);
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
    let (code, body) = post_raw(&server.url("/v1/embed"), "application/json", vec![b' '; 100 << 10]);
    assert_eq!(code, 413, "{body}");
    assert!(body["message"].as_str().unwrap().contains("too large"));
    let (code, _) = call("GET", &server.url("/v1/nothing-here"), None);
    assert_eq!(code, 404);

    // Classify with examples on a base model (few-shot); without, a clear 400.
    let examples: Vec<serde_json::Value> = [
        ("cheap flight", "travel"),
        ("airport taxi", "travel"),
        ("card refund", "money"),
        ("payment cost", "money"),
    ]
    .iter()
    .map(|(t, l)| serde_json::json!({"text": t, "label": l}))
    .collect();
    let (code, body) = call(
        "POST",
        &server.url("/v1/classify"),
        Some(serde_json::json!({"inputs": ["cheap fare"], "model": bm, "examples": examples})),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["classifications"][0]["classification_type"], "single-label");
    let (code, body) = call(
        "POST",
        &server.url("/v1/classify"),
        Some(serde_json::json!({"inputs": ["x"], "model": bm})),
    );
    assert_eq!(code, 400);
    assert!(body["message"].as_str().unwrap().contains("examples"));

    // Datasets: a good one, and one with a single label showing its fix.
    let (code, ds) = upload(&server, "train.csv", &dataset_csv());
    assert_eq!(code, 201, "{ds}");
    assert_eq!(ds["review"]["rows"], 36);
    let ds_id = ds["id"].as_str().unwrap().to_string();
    let (code, again) = call("GET", &server.url(&format!("/v1/datasets/{ds_id}")), None);
    assert_eq!((code, &again["id"]), (200, &ds["id"]));
    let one_label: String = (0..10).map(|i| format!("text {i},only\n")).collect();
    let (code, bad) = upload(&server, "one.csv", &format!("text,label\n{one_label}"));
    assert_eq!(code, 422, "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("at least two labels"),
        "{bad}"
    );
    let (code, bad) = upload(&server, "notes.txt", "hello");
    assert_eq!(code, 422);
    assert!(bad["message"].as_str().unwrap().contains(".csv"));
    let (code, _) = call("GET", &server.url("/v1/datasets/../../etc"), None);
    assert_eq!(code, 404);

    // A fine-tuning job: QUEUED -> FINETUNING -> READY, then classify by ID.
    let job = serde_json::json!({"name": "tiny-api", "dataset_id": ds_id, "base_model": bm, "settings": {"epochs": 2, "batch_size": 8}});
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["status"], "QUEUED");
    let id = created["id"].as_str().unwrap().to_string();
    let ready = wait_status(&server, &id, &["READY", "FAILED"], Duration::from_secs(120));
    assert_eq!(ready["status"], "READY", "{ready}");
    assert!(ready["metrics"]["finetuned"]["accuracy"].is_number());
    // Which model was kept, chosen on the selection rows, and why in one sentence.
    assert!(
        ["finetuned", "base"].contains(&ready["selected"].as_str().unwrap()),
        "{ready}"
    );
    assert!(ready["reason"].as_str().unwrap().contains("selection rows"), "{ready}");
    assert_eq!(ready["metrics"]["selected"], ready["selected"]);
    assert_eq!(ready["progress"]["step"], ready["progress"]["total"]);
    // The loss curve: one [step, loss] pair per step, ending at the last step.
    let losses = ready["progress"]["losses"].as_array().expect("a loss curve");
    assert_eq!(
        losses.len() as u64,
        ready["progress"]["total"].as_u64().unwrap(),
        "{ready}"
    );
    assert_eq!(losses.last().unwrap()[0], ready["progress"]["total"]);
    assert!(losses.iter().all(|p| p[1].as_f64().is_some_and(f64::is_finite)));

    // The map of the validation rows, under the base model and the fine-tuned one.
    let (code, map) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}/map")), None);
    assert_eq!(code, 200, "{map}");
    let valid_rows = ready["metrics"]["finetuned"]["rows"].as_u64().unwrap() as usize;
    for panel in ["baseline", "finetuned"] {
        let pts = map[panel].as_array().unwrap();
        assert_eq!(pts.len(), valid_rows, "{panel}");
        assert!(pts
            .iter()
            .all(|p| p["x"].is_number() && p["text"].is_string() && p["label"].is_string()));
        assert!(map["silhouette"][panel].is_number());
    }
    assert_eq!(map["method"], "pca", "too few rows for t-SNE: PCA instead");
    let (code, again) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}/map")), None);
    assert_eq!((code, &again), (200, &map), "the kept map is served the second time");
    let (code, bad) = call(
        "GET",
        &server.url(&format!("/v1/finetuned-models/{id}/map?method=umap")),
        None,
    );
    assert_eq!(code, 400, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("tsne or pca"));
    let inputs = ["refund my card", "cheap flight to denver", "reset password"];
    let (code, cls) = call(
        "POST",
        &server.url("/v1/classify"),
        Some(serde_json::json!({"inputs": inputs, "model": id})),
    );
    assert_eq!(code, 200, "{cls}");
    let cli = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["classify", "--model", &id, "--json"])
        .args(inputs)
        .env("ATTUNE_HOME", home.path())
        .output()
        .unwrap();
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    for i in 0..inputs.len() {
        assert_eq!(cls["classifications"][i]["prediction"], cli[i]["prediction"]);
        let c = cls["classifications"][i]["confidence"].as_f64().unwrap();
        assert!((c - cli[i]["confidence"].as_f64().unwrap()).abs() < 1e-5);
        let total: f64 = cls["classifications"][i]["labels"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v["confidence"].as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-4);
    }
    let (code, list) = call("GET", &server.url("/v1/finetuned-models"), None);
    assert_eq!(code, 200);
    assert!(list["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == id.as_str()));
    let (code, bad) = call(
        "POST",
        &server.url("/v1/finetuned-models"),
        Some(serde_json::json!({"name": "x", "dataset_id": "nope"})),
    );
    assert_eq!(code, 404, "{bad}");

    // Metrics and the OpenAPI document.
    let (code, metrics) = call("GET", &server.url("/metrics"), None);
    assert_eq!(code, 200);
    let m = metrics.as_str().unwrap();
    assert!(
        m.contains("attune_requests_total{route=\"/v1/embed\",status=\"200\"}")
            && m.contains("attune_batch_texts_count"),
        "{m}"
    );
    let (code, doc) = call("GET", &server.url("/openapi.json"), None);
    assert_eq!(code, 200);
    assert!(doc["paths"]["/v1/embed"].is_object());
    assert!(doc["paths"]["/v1/finetuned-models/{id}/map"].is_object());

    // The dashboard loads without a key (the page asks for one), only from this server.
    let resp = agent().get(&server.url("/")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = resp.into_body().read_to_string().unwrap();
    assert!(html.contains("/dashboard/app.js"), "{html}");
    for file in ["app.js", "api.js", "ui.js", "charts.js", "style.css"] {
        let resp = agent().get(&server.url(&format!("/dashboard/{file}"))).call().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{file}");
    }
    let (code, _) = call_with("GET", &server.url("/v1/models"), None, None);
    assert_eq!(code, 401, "the API behind the page still needs the key");

    // Delete.
    let (code, _) = call("DELETE", &server.url(&format!("/v1/finetuned-models/{id}")), None);
    assert_eq!(code, 204);
    let (code, _) = call("GET", &server.url(&format!("/v1/finetuned-models/{id}")), None);
    assert_eq!(code, 404);
    assert!(server.stop().success(), "SIGTERM is a clean exit");
}

#[test]
fn an_interrupted_job_resumes_after_a_restart() {
    let base_model = common::tiny_model(&TinySpec::default());
    let bm = base_model.path().to_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    // The first server's job is stopped at step 3, as a shutdown would stop it.
    let server = start_server(home.path(), &[("ATTUNE_FAULT_STOP_AT_STEP", "3")]);
    let (_, ds) = upload(&server, "train.csv", &dataset_csv());
    let job = serde_json::json!({"name": "resumed", "dataset_id": ds["id"], "base_model": bm, "settings": {"epochs": 3, "batch_size": 8}});
    let (code, created) = call("POST", &server.url("/v1/finetuned-models"), Some(job));
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let m = wait_status(&server, &id, &["FINETUNING"], Duration::from_secs(60));
    assert_eq!(m["status"], "FINETUNING");
    // Give the runner time to reach the stop and save its checkpoint.
    let ckpt = home.path().join(format!("models/{id}.partial/checkpoints/LATEST"));
    let start = Instant::now();
    while !ckpt.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.stop().success());
    let server = start_server(home.path(), &[]);
    let m = wait_status(&server, &id, &["READY", "FAILED"], Duration::from_secs(120));
    assert_eq!(m["status"], "READY", "{m}");
}
