//! The official OpenAI and Cohere Python SDKs (pinned: openai 3.57.0, cohere 7.3.1, installed by
//! `.ci/run` into `.venv-ci`) against a real server: `tests/sdk/check_sdks.py` makes the calls a
//! user makes and compares every vector with `attune embed` within 1e-6; then the `openai` npm
//! client (pinned in `tests/e2e/package.json`) does the same from Node. Elsewhere the test says
//! what is missing and skips, unless `ATTUNE_SDK_REQUIRED=1` (as CI sets) makes that a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use attune::testing::TinySpec;
use common::Server;

const KEY: &str = "sdk-key";

fn python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-ci/bin/python");
    let ok = p.exists()
        && Command::new(&p)
            .args(["-c", "import openai, cohere"])
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(p)
}

fn attune(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(args)
        .env("ATTUNE_HOME", home)
        .env("HF_HUB_OFFLINE", "1")
        .env("ATTUNE_CACHE", home.join("cache"))
        .output()
        .unwrap()
}

#[test]
fn the_official_python_sdks_work_unchanged() {
    let Some(py) = python() else {
        let why = "the SDKs are not installed (python3 -m venv .venv-ci && .venv-ci/bin/pip install openai==3.57.0 cohere==7.3.1)";
        if std::env::var("ATTUNE_SDK_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let base = common::tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap();
    // A fine-tuned model for classify by ID and the model list.
    let mut csv = String::from("text,label\n");
    let words = [
        ("travel", "flight fare boston"),
        ("money", "card refund price"),
        ("login", "password reset account"),
    ];
    for i in 0..15 {
        for (label, w) in words {
            csv.push_str(&format!("{w} {} {i},{label}\n", "a".repeat(1 + i % 3)));
        }
    }
    let data = home.path().join("train.csv");
    std::fs::write(&data, csv).unwrap();
    let out = attune(
        home.path(),
        &[
            "finetune",
            "--data",
            data.to_str().unwrap(),
            "--base",
            bm,
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The reference vectors: `attune embed`.
    let texts = ["cheap flight to boston", "refund my card payment", "reset my password"];
    let mut args = vec!["embed", "--model", bm];
    args.extend(texts);
    let out = attune(home.path(), &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let embeddings: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["embedding"].clone())
        .collect();
    let reference = home.path().join("reference.json");
    std::fs::write(
        &reference,
        serde_json::json!({"texts": texts, "embeddings": embeddings}).to_string(),
    )
    .unwrap();

    let server = Server::start(home.path(), &["--api-key", KEY, "--allow-model", bm], &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/check_sdks.py");
    let out = Command::new(py)
        .arg(script)
        .args([server.base.as_str(), KEY, bm, id.as_str(), reference.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}\nserver:\n{}", server.log_text());
    assert!(text.contains("all SDK checks passed"), "{text}");
    eprintln!("{text}");

    // The `openai` npm client, from the browser test's Node setup (tests/e2e).
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    if !e2e.join("node_modules/openai").exists() {
        let why = format!(
            "the openai npm package is not installed (npm ci --prefix {})",
            e2e.display()
        );
        if std::env::var("ATTUNE_SDK_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("{why}");
        }
        eprintln!("skipped the npm client: {why}");
        return;
    }
    let out = Command::new("node")
        .arg(e2e.join("openai_sdk.mjs"))
        .args([server.base.as_str(), KEY, bm, reference.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all npm SDK checks passed"), "{text}");
    eprintln!("{text}");
}
