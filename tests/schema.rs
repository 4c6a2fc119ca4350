//! Schema-driven testing of the HTTP API: schemathesis (from PyPI) reads the server's generated
//! `/openapi.json` and sends thousands of requests, valid and not, to every route of a real
//! server. Every answer must be below 500, in the content type the document names (JSON for
//! every error), and match its response schema; what the schema says is invalid must be
//! refused. `.ci/run` installs schemathesis into `.venv-ci`; elsewhere the test says what is
//! missing and skips, unless `ATTUNE_SCHEMA_REQUIRED=1` (as CI sets) makes that a failure.
//!
//! Not checked: that every request the schema allows is accepted (schemathesis's
//! `positive_data_acceptance`), since some rules are semantic (an upload's name must end in .csv,
//! .tsv or .jsonl; a model must exist) and a schema cannot say them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use attune::testing::TinySpec;
use common::Server;

const KEY: &str = "schema-key";

fn schemathesis() -> Option<PathBuf> {
    let candidates = [
        std::env::var("ATTUNE_SCHEMATHESIS").ok().map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-ci/bin/st")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

#[test]
fn every_route_answers_as_its_generated_schema_says() {
    let Some(st) = schemathesis() else {
        let why = "schemathesis is not installed (python3 -m venv .venv-ci && .venv-ci/bin/pip install schemathesis)";
        if std::env::var("ATTUNE_SCHEMA_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let model = common::tiny_model(&TinySpec::default());
    let server = Server::start(
        home.path(),
        &["--api-key", KEY, "--allow-model", model.path().to_str().unwrap()],
        &[],
    );
    let out = Command::new(st)
        .args(["run", &server.url("/openapi.json")])
        .args(["--checks", "all", "--exclude-checks", "positive_data_acceptance"])
        .args(["--header", &format!("Authorization: Bearer {KEY}")])
        .args(["--max-examples", "40", "--seed", "20261127", "--no-color"])
        // Path parameters are strings that may hold "/" (base model names): hypothesis filters
        // many of its candidates for a path segment, which its health check would call a failure.
        .args(["--suppress-health-check", "filter_too_much"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
}
