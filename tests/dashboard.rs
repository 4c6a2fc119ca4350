//! The dashboard, end to end in a real headless Chromium: `tests/e2e/dashboard.mjs` (Playwright
//! via `playwright-core` from npm, driving Debian's `chromium`) against the real server with a
//! key, the demo dataset and a tiny model. `.ci/run` installs both; elsewhere the test says what
//! is missing and skips, unless `ATTUNE_E2E_REQUIRED=1` (as CI sets) makes that a failure.
//! Screenshots of every page land in `target/tmp/dashboard-screenshots/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use attune::testing::TinySpec;
use common::Server;

const KEY: &str = "dashboard-key-456";

fn chromium() -> Option<PathBuf> {
    let candidates = [std::env::var("CHROMIUM").ok(), Some("/usr/bin/chromium".into())];
    candidates.into_iter().flatten().map(PathBuf::from).find(|p| p.exists())
}

fn missing() -> Option<String> {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed (apt install nodejs npm)".into());
    }
    if !e2e.join("node_modules/playwright-core").exists() {
        // The lock file pins it; npm's registry is reachable where the tests run.
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&e2e)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!(
                "playwright-core could not be installed (npm ci --prefix {})",
                e2e.display()
            ));
        }
    }
    if chromium().is_none() {
        return Some("Debian's chromium is not installed (apt install chromium)".into());
    }
    None
}

#[test]
fn the_whole_flow_in_a_browser() {
    if let Some(why) = missing() {
        if std::env::var("ATTUNE_E2E_REQUIRED").is_ok_and(|v| v == "1") {
            panic!("the dashboard's browser test cannot run: {why}");
        }
        eprintln!("skipped: the dashboard's browser test cannot run: {why}");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let model = common::tiny_model(&TinySpec::default());
    let bad = home.path().join("one-label.csv");
    let mut one_label = String::from("text,label\n");
    for i in 0..300 {
        one_label.push_str(&format!("my parcel number {i} has not arrived,delivery\n"));
    }
    std::fs::write(&bad, one_label).unwrap();
    // Slow steps, so a page that polls once a second sees the tiny model's progress move.
    let server = Server::start(
        home.path(),
        &["--api-key", KEY, "--allow-model", model.path().to_str().unwrap()],
        &[("ATTUNE_FAULT_SLOW_STEP_MS", "120")],
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo/support-tickets.csv");
    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/dashboard.mjs"))
        .env("ATTUNE_URL", &server.base)
        .env("ATTUNE_KEY", KEY)
        .env("SHOTS", &shots)
        .env("DEMO_CSV", &demo)
        .env("MULTI_CSV", common::tiny_multi_dataset(home.path()))
        .env("BAD_CSV", &bad)
        .env("TINY_MODEL", model.path())
        .env("CHROMIUM", chromium().unwrap())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}\nscreenshots: {}", shots.display());
    assert!(out.status.success(), "the browser test failed:\n{log}");
    drop(server);
}
