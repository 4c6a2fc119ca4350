//! Multi-label end to end on a tiny random model: label sets from a separator, training with a
//! sigmoid per label, thresholds from the selection rows, the multi-label metrics in `--json`,
//! classify in the CLI and the API, and the errors for bad label input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use attune::testing::TinySpec;

use common::tiny_model;

struct Env {
    home: tempfile::TempDir,
    base: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            home: tempfile::tempdir().unwrap(),
            base: tiny_model(&TinySpec::default()),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_attune"));
        c.args(args)
            .env("ATTUNE_HOME", self.home.path().join("registry"))
            .env("ATTUNE_CACHE", self.home.path().join("cache"))
            .env("HF_HUB_OFFLINE", "1")
            .env("ATTUNE_BASE", self.base.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail cleanly: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    }
}

fn texts_and_sets(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let ds = attune::data::Dataset::load(path, &Default::default()).unwrap();
    assert!(ds.multi_label);
    ds.examples.into_iter().map(|e| (e.text, e.labels)).unzip()
}

#[test]
fn multi_label_fine_tune_reports_set_metrics_and_classifies_sets() {
    let env = Env::new();
    let data = common::tiny_multi_dataset(env.home.path());
    let data = data.to_str().unwrap();
    let review = env.ok(&["review", "--data", data, "--label-separator", "+", "--no-model"]);
    assert!(
        review.contains("labels per row") && review.contains("with none"),
        "{review}"
    );
    let out: serde_json::Value = serde_json::from_str(&env.ok(&[
        "finetune",
        "--data",
        data,
        "--label-separator",
        "+",
        "--json",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--name",
        "multi",
    ]))
    .unwrap();
    for side in ["baseline", "finetuned"] {
        let m = &out["metrics"][side];
        for key in [
            "subset_accuracy",
            "hamming_score",
            "precision_micro",
            "recall_micro",
            "f1_micro",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "cardinality_error",
        ] {
            let v = m[key].as_f64().unwrap_or_else(|| panic!("{side}.{key} missing: {m}"));
            assert!((0.0..=4.0).contains(&v), "{side}.{key} = {v}");
        }
        assert!(m["per_label"].as_object().unwrap().len() == 4, "{m}");
        assert_eq!(m["accuracy"], m["hamming_score"]);
    }
    assert!(out["selected"] == "base" || out["selected"] == "finetuned");

    // The thresholds are the selection rows' own: calibrating the saved head again on them
    // gives the same thresholds.
    let dir = PathBuf::from(out["path"].as_str().unwrap());
    let model = attune::model::FinetunedModel::load(&dir).unwrap();
    let attune::head::Head::Multi(head) = &model.head else {
        panic!("a multi-label model has a multi-label head")
    };
    let (sel_texts, sel_sets) = texts_and_sets(&dir.join("selection.jsonl"));
    let refs: Vec<&str> = sel_texts.iter().map(String::as_str).collect();
    let x = model.encoder.embed(&refs, 16).unwrap();
    let ids: Vec<Vec<usize>> = sel_sets
        .iter()
        .map(|s| {
            s.iter()
                .map(|l| head.labels.iter().position(|x| x == l).unwrap())
                .collect()
        })
        .collect();
    let mut again = head.clone();
    again.calibrate(&x, &ids).unwrap();
    assert_eq!(again.thresholds, head.thresholds);
    assert_eq!(
        (again.scale.clone(), again.offset.clone()),
        (head.scale.clone(), head.offset.clone())
    );

    // Classify answers sets; eval reads the same kind of file and refuses the other kind.
    let c: serde_json::Value =
        serde_json::from_str(&env.ok(&["classify", "--model", "multi", "--json", "flight card", "password"])).unwrap();
    for row in c.as_array().unwrap() {
        let set = row["labels"].as_array().expect("a multi-label answer carries its set");
        for l in set {
            assert!(l["confidence"].as_f64().unwrap() > 0.0);
        }
    }
    let e: serde_json::Value = serde_json::from_str(&env.ok(&[
        "eval",
        "--model",
        "multi",
        "--data",
        data,
        "--label-separator",
        "+",
        "--json",
    ]))
    .unwrap();
    assert!(e["subset_accuracy"].is_number() && e["per_label"].is_object(), "{e}");
    let err = env.fails(&["eval", "--model", "multi", "--data", data]);
    assert!(
        err.contains("multi-label") && err.contains("--label-separator"),
        "{err}"
    );
}

#[test]
fn bad_label_input_gets_clear_errors() {
    let env = Env::new();
    let data = common::tiny_multi_dataset(env.home.path());
    let data = data.to_str().unwrap();
    let err = env.fails(&["finetune", "--data", data, "--label-separator", ";"]);
    assert!(err.contains("occurs in no cell") && err.contains("multi.csv"), "{err}");
    // A test file whose label sets name a label the training data lacks.
    let test = env.home.path().join("test.csv");
    std::fs::write(&test, "text,labels\nflight fare,travel+weather\ncard,money\n").unwrap();
    let test = test.to_str().unwrap();
    let err = env.fails(&["finetune", "--data", data, "--label-separator", "+", "--test", test]);
    assert!(err.contains("weather") && err.contains("test.csv"), "{err}");
    // A JSONL label set with a value that is not a label is named with its line.
    let j = env.home.path().join("bad.jsonl");
    std::fs::write(
        &j,
        "{\"text\": \"a\", \"labels\": [\"x\"]}\n{\"text\": \"b\", \"labels\": [null]}\n",
    )
    .unwrap();
    let out = env.run(&["review", "--data", j.to_str().unwrap(), "--no-model"]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("line 2") && out.contains("label set"), "{out}");
}

fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// `POST /v1/classify` of a multi-label model lists the set in `predictions` and says
/// `multi-label`; a single-label model's answer keeps its shape; long_text is checked.
#[test]
fn the_api_answers_sets_for_a_multi_label_model_only() {
    let env = Env::new();
    let multi = common::tiny_multi_dataset(env.home.path());
    let single = common::tiny_dataset(env.home.path());
    for (data, name, sep) in [(&multi, "multi", Some("+")), (&single, "single", None)] {
        let mut args = vec![
            "finetune",
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--name",
            name,
        ];
        if let Some(s) = sep {
            args.extend(["--label-separator", s]);
        }
        env.ok(&args);
    }
    let server = common::Server::start(
        &env.home.path().join("registry"),
        &[],
        &[("ATTUNE_BASE", env.base.path().to_str().unwrap())],
    );
    let (s, v) = post(
        &server.url("/v1/classify"),
        serde_json::json!({"model": "multi", "inputs": ["flight card the", "how my"], "long_text": "chunk"}),
    );
    assert_eq!(s, 200, "{v}");
    for c in v["classifications"].as_array().unwrap() {
        assert_eq!(c["classification_type"], "multi-label");
        let p = c["predictions"].as_array().unwrap();
        assert_eq!(p.len(), c["confidences"].as_array().unwrap().len());
        assert_eq!(
            c["labels"].as_object().unwrap().len(),
            4,
            "every label's confidence: {c}"
        );
    }
    let (s, v) = post(
        &server.url("/v1/classify"),
        serde_json::json!({"model": "single", "inputs": ["refund my card"]}),
    );
    assert_eq!(s, 200, "{v}");
    let c = &v["classifications"][0];
    assert_eq!(c["classification_type"], "single-label");
    assert_eq!(c["predictions"].as_array().unwrap().len(), 1);
    assert_eq!(c["predictions"][0], c["prediction"]);
    let (s, v) = post(
        &server.url("/v1/classify"),
        serde_json::json!({"model": "single", "inputs": ["x"], "long_text": "chunk", "chunk_stride": 0}),
    );
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("chunk_stride"), "{v}");
    let (s, v) = post(
        &server.url("/v1/classify"),
        serde_json::json!({"model": "single", "inputs": ["x"], "long_text": "split"}),
    );
    assert!(s == 400 || s == 422, "{s} {v}");
    assert!(v["message"].as_str().unwrap().contains("long_text"), "{v}");
}
