//! Fine-tuning end to end on a tiny random model: registry, reproducibility, a killed run that
//! leaves the registry valid and resumes to the same model, classify, eval, and bad input.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use attune::testing::TinySpec;

use common::tiny_model;

fn tiny_dataset(dir: &Path) -> String {
    common::tiny_dataset(dir).to_string_lossy().into_owned()
}

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
            .env("HF_HOME", self.home.path().join("hf"))
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

    fn data(&self) -> String {
        tiny_dataset(self.home.path())
    }
}

const FAST: &[&str] = &["--epochs", "3", "--batch-size", "8", "--patience", "5"];

fn finetune_json(env: &Env, extra: &[&str]) -> serde_json::Value {
    let data = env.data();
    let mut args = vec!["finetune", "--data", data.as_str(), "--json"];
    args.extend_from_slice(FAST);
    if !extra.contains(&"--seed") {
        args.extend_from_slice(&["--seed", "7"]);
    }
    args.extend_from_slice(extra);
    serde_json::from_str(&env.ok(&args)).unwrap()
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let t = candle_core::safetensors::load(dir.join("model/model.safetensors"), &candle_core::Device::Cpu).unwrap();
    let mut v: Vec<_> = t
        .into_iter()
        .filter(|(k, _)| !k.contains("position_ids"))
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn finetune_registers_a_complete_model_with_metrics() {
    let env = Env::new();
    let out = finetune_json(&env, &["--name", "tiny"]);
    let id = out["model_id"].as_str().unwrap();
    assert!(id.ends_with("-ft"));
    for side in ["baseline", "finetuned"] {
        let m = &out["metrics"][side];
        for k in [
            "accuracy",
            "loss",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "silhouette",
            "per_label",
            "confusion",
        ] {
            assert!(!m[k].is_null(), "{side}.{k} missing");
        }
    }
    let path = Path::new(out["path"].as_str().unwrap());
    for f in [
        "model/config.json",
        "model/model.safetensors",
        "model/tokenizer.json",
        "head.json",
        "manifest.json",
    ] {
        assert!(path.join(f).exists(), "{f}");
    }
    assert!(
        !path.join("checkpoints").exists(),
        "checkpoints are removed once complete"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["seed"], 7);
    assert_eq!(manifest["dataset"]["sha256"].as_str().unwrap().len(), 64);

    let list: serde_json::Value = serde_json::from_str(&env.ok(&["models", "list", "--json"])).unwrap();
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["name"], "tiny");

    // Classify by ID and by nickname; probabilities sum to 1.
    let c: serde_json::Value =
        serde_json::from_str(&env.ok(&["classify", "--model", "tiny", "--json", "refund my card"])).unwrap();
    let total: f64 = c[0]["confidences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["confidence"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-4);
    let c2: serde_json::Value =
        serde_json::from_str(&env.ok(&["classify", "--model", id, "--json", "refund my card"])).unwrap();
    assert_eq!(c, c2);
    let abstain: serde_json::Value =
        serde_json::from_str(&env.ok(&["classify", "--model", id, "--json", "--abstain-below", "1.0", "refund"]))
            .unwrap();
    assert!(abstain[0]["prediction"].is_null(), "nothing is 100 % sure");

    // embed accepts the registry ID too.
    let e = env.ok(&["embed", "--model", id, "taxi"]);
    assert!(e.contains("\"embedding\""));

    // eval on the training file: metric keys at the top level.
    let data = env.data();
    let ev: serde_json::Value =
        serde_json::from_str(&env.ok(&["eval", "--model", id, "--data", &data, "--json"])).unwrap();
    assert!(ev["accuracy"].as_f64().unwrap() > 0.0 && ev["f1_macro"].is_number());

    // eval --dtype: the lower precision's metrics at the top level, f32's beside them, and how
    // far the answers and embeddings moved; classify and embed take the same flag.
    for dtype in ["int8", "bf16"] {
        let low: serde_json::Value =
            serde_json::from_str(&env.ok(&["eval", "--model", id, "--data", &data, "--json", "--dtype", dtype]))
                .unwrap();
        assert_eq!(low["dtype"], dtype);
        assert_eq!(low["f32"]["accuracy"], ev["accuracy"], "the f32 column is plain eval's");
        let agreement = low["agreement"].as_f64().unwrap();
        let (mean, min) = (
            low["mean_cosine"].as_f64().unwrap(),
            low["min_cosine"].as_f64().unwrap(),
        );
        assert!(
            (0.9..=1.0).contains(&agreement) && min <= mean && mean > 0.99 && mean <= 1.0 + 1e-6,
            "{low}"
        );
        assert!(low["accuracy"].is_number() && low["f1_macro"].is_number());
        let c: serde_json::Value =
            serde_json::from_str(&env.ok(&["classify", "--model", id, "--json", "--dtype", dtype, "refund my card"]))
                .unwrap();
        assert!(c[0]["prediction"].is_string());
        assert!(env
            .ok(&["embed", "--model", id, "--dtype", dtype, "taxi"])
            .contains("\"embedding\""));
    }
    let table = env.ok(&["eval", "--model", id, "--data", &data, "--dtype", "int8"]);
    assert!(
        table.contains("in int8 beside f32") && table.contains("of answers as in f32"),
        "{table}"
    );
    // A bad flag value is a usage error (exit 2, as clap gives every usage error).
    let bad = env.run(&["eval", "--model", id, "--data", &data, "--dtype", "fp8"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--dtype") && err.contains("f32, bf16 or int8") && !err.contains("panicked"),
        "{err}"
    );

    env.ok(&["models", "rm", id]);
    assert!(!path.exists());
    let err = env.fails(&["classify", "--model", id, "x"]);
    assert!(err.contains(id) && err.contains("not in the registry"), "{err}");
}

#[test]
fn the_same_seed_gives_the_same_model() {
    let env = Env::new();
    let a = finetune_json(&env, &[]);
    let b = finetune_json(&env, &[]);
    let c = finetune_json(&env, &["--seed", "8"]);
    let wa = weights(Path::new(a["path"].as_str().unwrap()));
    let wb = weights(Path::new(b["path"].as_str().unwrap()));
    let wc = weights(Path::new(c["path"].as_str().unwrap()));
    assert!(wa == wb, "same seed, same weights");
    assert!(wa != wc, "another seed, other weights");
    assert_eq!(a["metrics"], b["metrics"]);
}

#[test]
fn a_killed_run_leaves_the_registry_valid_and_resumes_to_the_same_model() {
    let env = Env::new();
    let data = env.data();
    let original = std::fs::read(&data).unwrap();
    let mut args = vec!["finetune", "--data", data.as_str(), "--json", "--seed", "7"];
    args.extend_from_slice(FAST);
    let out = env
        .cmd(&args)
        .env("ATTUNE_FAULT_ABORT_AFTER_EPOCH", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the run was killed");
    let ready: serde_json::Value = serde_json::from_str(&env.ok(&["models", "list", "--json"])).unwrap();
    assert_eq!(ready.as_array().unwrap().len(), 0, "no half model is listed");
    let all: serde_json::Value = serde_json::from_str(&env.ok(&["models", "list", "--all", "--json"])).unwrap();
    assert_eq!(all[0]["status"], "FINETUNING");
    let id = all[0]["id"].as_str().unwrap().to_string();
    // The dataset file was not touched.
    assert_eq!(std::fs::read(&data).unwrap(), original, "the user's file is untouched");
    let err = env.fails(&["classify", "--model", &id, "x"]);
    assert!(err.contains("--resume"), "{err}");

    let resumed: serde_json::Value = serde_json::from_str(&env.ok(&["finetune", "--resume", &id, "--json"])).unwrap();
    assert_eq!(resumed["model_id"], id.as_str());
    let straight = finetune_json(&env, &[]);
    assert!(
        weights(Path::new(resumed["path"].as_str().unwrap())) == weights(Path::new(straight["path"].as_str().unwrap())),
        "resuming gives exactly the model of an uninterrupted run"
    );
    assert_eq!(resumed["metrics"], straight["metrics"]);
}

#[test]
fn bad_input_gets_clear_errors() {
    let env = Env::new();
    let h = env.home.path();
    let write = |name: &str, body: &str| {
        let p = h.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    };
    let empty = write("empty.csv", "");
    let e = env.fails(&["finetune", "--data", &empty]);
    assert!(e.contains("empty.csv") && e.contains("empty"), "{e}");

    let rows: String = (0..20).map(|i| format!("text {i},only\n")).collect();
    let one = write("one.csv", &format!("text,label\n{rows}"));
    let e = env.fails(&["finetune", "--data", &one]);
    assert!(e.contains("one.csv") && e.contains("at least 2"), "{e}");

    let e = env.fails(&["finetune", "--data", &one, "--label-column", "tag"]);
    assert!(e.contains("no column \"tag\""), "{e}");

    let small = write("small.csv", "text,label\na,x\nb,x\nc,y\nd,y\n");
    let e = env.fails(&["finetune", "--data", &small]);
    assert!(e.contains("small.csv") && e.contains("5 usable rows"), "{e}");

    let e = env.fails(&["classify", "--model", "0000-ft", "hi"]);
    assert!(e.contains("0000-ft"), "{e}");

    let missing = h.join("nope.csv");
    let e = env.fails(&["finetune", "--data", missing.to_str().unwrap()]);
    assert!(e.contains("nope.csv"), "{e}");
}

#[test]
fn eval_names_labels_the_model_does_not_know() {
    let env = Env::new();
    let out = finetune_json(&env, &[]);
    let id = out["model_id"].as_str().unwrap();
    let other = env.home.path().join("other.csv");
    std::fs::write(&other, "text,label\nflight fare,travel\nbus,transport\ncoffee,food\n").unwrap();
    let e = env.fails(&["eval", "--model", id, "--data", other.to_str().unwrap()]);
    assert!(
        e.contains("food") && e.contains("transport") && e.contains("other.csv"),
        "{e}"
    );
}

#[test]
fn a_damaged_registry_entry_is_named() {
    let env = Env::new();
    let out = finetune_json(&env, &[]);
    let id = out["model_id"].as_str().unwrap();
    let path = Path::new(out["path"].as_str().unwrap());
    std::fs::remove_file(path.join("model/model.safetensors")).unwrap();
    let e = env.fails(&["classify", "--model", id, "hello"]);
    assert!(e.contains(id) && e.contains("damaged"), "{e}");
    // It can still be listed and removed.
    env.ok(&["models", "rm", id]);
}

#[test]
fn a_stop_mid_epoch_checkpoints_and_resumes_to_the_same_model() {
    let env = Env::new();
    let data = env.data();
    let mut args = vec!["finetune", "--data", data.as_str(), "--json", "--seed", "7"];
    args.extend_from_slice(FAST);
    // 30 training rows (9 test and 6 selection rows are held out), batch 8: 4 steps an epoch;
    // step 7 is inside epoch 2.
    let out = env.cmd(&args).env("ATTUNE_FAULT_STOP_AT_STEP", "7").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stopped at step 7") && err.contains("checkpoint saved"),
        "{err}"
    );
    let all: serde_json::Value = serde_json::from_str(&env.ok(&["models", "list", "--all", "--json"])).unwrap();
    assert_eq!(all[0]["status"], "FINETUNING", "a stopped run stays resumable");
    let id = all[0]["id"].as_str().unwrap().to_string();
    let resumed: serde_json::Value = serde_json::from_str(&env.ok(&["finetune", "--resume", &id, "--json"])).unwrap();
    let straight = finetune_json(&env, &[]);
    assert_eq!(resumed["training"]["steps"], straight["training"]["steps"]);
    assert!(
        weights(Path::new(resumed["path"].as_str().unwrap())) == weights(Path::new(straight["path"].as_str().unwrap())),
        "resuming mid-epoch gives exactly the model of an uninterrupted run"
    );
}

#[test]
fn sigterm_stops_a_cli_run_with_a_checkpoint_that_resumes() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let data = env.data();
    // Long enough to be caught mid-run: many epochs, no early stop.
    let mut child = env
        .cmd(&[
            "finetune",
            "--data",
            &data,
            "--epochs",
            "300",
            "--patience",
            "1000",
            "--batch-size",
            "8",
            "--seed",
            "3",
        ])
        .env("ATTUNE_PROGRESS_SECONDS", "0.2")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if progress_step(&line).is_some_and(|s| s >= 20) {
            break;
        }
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let all = [seen, rest].concat().join("\n");
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(all.contains("checkpoint saved"), "{all}");
    let runs: serde_json::Value = serde_json::from_str(&env.ok(&["models", "list", "--all", "--json"])).unwrap();
    assert_eq!(runs[0]["status"], "FINETUNING");
    let id = runs[0]["id"].as_str().unwrap().to_string();
    let done: serde_json::Value = serde_json::from_str(&env.ok(&["finetune", "--resume", &id, "--json"])).unwrap();
    // 45 rows, 30 for training, batch 8: 4 steps an epoch.
    assert_eq!(
        done["training"]["steps"],
        300 * 4,
        "the resumed run finishes every step"
    );
}

/// The step a progress line reports ("... training: step 12/40  epoch 2 ...").
fn progress_step(line: &str) -> Option<usize> {
    let rest = line.split("training: step ").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

fn read_csv_texts(path: &Path) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|x| x.unwrap()[0].to_string()).collect()
}

#[test]
fn reported_figures_come_from_test_rows_that_no_decision_saw() {
    let env = Env::new();
    let out = finetune_json(&env, &[]);
    let dir = Path::new(out["path"].as_str().unwrap());
    let test = read_csv_texts(&dir.join("test.csv"));
    let select = read_csv_texts(&dir.join("selection.csv"));
    // 45 rows: 20 % of each label (3 of 15) for test, then 2 of each label's 12 for selection.
    assert_eq!((test.len(), select.len()), (9, 6));
    assert_eq!(out["rows"]["test"], 9);
    assert_eq!(out["rows"]["selection"], 6);
    assert_eq!(out["rows"]["train"], 30);
    assert!(
        test.iter().all(|t| !select.contains(t)),
        "test and selection rows are disjoint"
    );
    // Both sides' figures count exactly the test rows, never the selection rows.
    for side in ["baseline", "finetuned"] {
        assert_eq!(out["metrics"][side]["rows"], 9, "{side}");
    }
    assert_eq!(out["selection"]["finetuned"]["rows"], 6);
    // The handed-over model, measured again on the stored test rows, gives the reported figures:
    // they were computed on those rows, with the head calibrated elsewhere.
    let side = if out["selected"] == "base" {
        "baseline"
    } else {
        "finetuned"
    };
    let test_path = dir.join("test.csv");
    let id = out["model_id"].as_str().unwrap();
    let ev: serde_json::Value =
        serde_json::from_str(&env.ok(&["eval", "--model", id, "--data", test_path.to_str().unwrap(), "--json"]))
            .unwrap();
    for k in ["accuracy", "f1_macro", "loss"] {
        let (a, b) = (ev[k].as_f64().unwrap(), out["metrics"][side][k].as_f64().unwrap());
        assert!((a - b).abs() < 1e-5, "{k}: eval on test.csv {a}, reported {b}");
    }
    // The training rows are the rest of the file: none of them is a test row.
    let all = read_csv_texts(Path::new(&env.data()));
    let train: Vec<&String> = all
        .iter()
        .filter(|t| !test.contains(t) && !select.contains(t))
        .collect();
    assert_eq!(train.len(), 30);
}

#[test]
fn a_test_file_is_where_the_figures_come_from() {
    let env = Env::new();
    let test = env.home.path().join("held-out.csv");
    std::fs::write(
        &test,
        "text,label
flight fare the boston a,travel
card refund the cost aa,money
",
    )
    .unwrap();
    let out = finetune_json(&env, &["--test", test.to_str().unwrap()]);
    assert_eq!(out["metrics"]["finetuned"]["rows"], 2);
    assert_eq!(out["metrics"]["baseline"]["rows"], 2);
    assert!(out["rows"]["test_source"].as_str().unwrap().contains("held-out.csv"));
    // Nothing of --data is held out for testing then: 45 rows less the selection rows.
    assert_eq!(
        out["rows"]["train"].as_u64().unwrap() + out["rows"]["selection"].as_u64().unwrap(),
        45
    );
}

#[test]
fn the_base_model_wins_when_training_is_useless_and_the_output_says_so() {
    let env = Env::new();
    let data = env.data();
    let mut args = vec![
        "finetune",
        "--data",
        data.as_str(),
        "--seed",
        "7",
        "--learning-rate",
        "0",
    ];
    args.extend_from_slice(FAST);
    let text = env.ok(&args);
    assert!(
        text.contains("Selected: the base model (not fine-tuned).") && text.contains("did not beat the base model"),
        "{text}"
    );
    let out = finetune_json(&env, &["--learning-rate", "0"]);
    assert_eq!(out["selected"], "base");
    assert!(out["reason"].as_str().unwrap().contains("try"), "{}", out["reason"]);
    // The handed-over model is the base model, weight for weight, and it classifies.
    let dir = Path::new(out["path"].as_str().unwrap());
    let id = out["model_id"].as_str().unwrap();
    let base = env.base.path().to_str().unwrap();
    assert_eq!(
        env.ok(&["embed", "--model", id, "refund my card"]),
        env.ok(&["embed", "--model", base, "refund my card"]),
        "the kept encoder is the base model's"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["selected"], "base");
    assert!(manifest["reason"].is_string());
    env.ok(&["classify", "--model", id, "refund my card"]);
}

#[test]
fn progress_lines_appear_when_stderr_is_a_file() {
    let env = Env::new();
    let data = env.data();
    let log = env.home.path().join("stderr.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut args = vec!["finetune", "--data", data.as_str(), "--json", "--seed", "7"];
    args.extend_from_slice(FAST);
    let status = env
        .cmd(&args)
        .env("ATTUNE_PROGRESS_SECONDS", "0.3")
        .env("ATTUNE_FAULT_SLOW_STEP_MS", "250")
        .stderr(file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let steps: Vec<usize> = text.lines().filter_map(progress_step).collect();
    // 12 steps of at least 250 ms: a line at the first step, then one per 0.3 s at least.
    assert!(steps.len() >= 5, "{text}");
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{text}");
    let line = text.lines().find(|l| progress_step(l).is_some()).unwrap();
    for part in ["training", "epoch", "loss", "eta", "/12", "["] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
}

#[test]
fn a_stop_mid_epoch_resumes_exactly_with_the_cross_entropy_loss() {
    let env = Env::new();
    let data = env.data();
    let mut args = vec![
        "finetune",
        "--data",
        data.as_str(),
        "--json",
        "--seed",
        "7",
        "--loss",
        "ce",
    ];
    args.extend_from_slice(FAST);
    let out = env.cmd(&args).env("ATTUNE_FAULT_STOP_AT_STEP", "6").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let all: serde_json::Value = serde_json::from_str(&env.ok(&["models", "list", "--all", "--json"])).unwrap();
    let id = all[0]["id"].as_str().unwrap().to_string();
    let resumed: serde_json::Value = serde_json::from_str(&env.ok(&["finetune", "--resume", &id, "--json"])).unwrap();
    let straight = finetune_json(&env, &["--loss", "ce"]);
    assert_eq!(straight["recipe"]["loss"], "ce");
    assert_eq!(resumed["training"]["steps"], straight["training"]["steps"]);
    let losses = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["training"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["mean_loss"].clone())
            .collect()
    };
    assert_eq!(
        losses(&resumed),
        losses(&straight),
        "the same steps on the same batches"
    );
    assert_eq!(resumed["selection"], straight["selection"]);
    assert!(
        weights(Path::new(resumed["path"].as_str().unwrap())) == weights(Path::new(straight["path"].as_str().unwrap())),
        "resuming mid-epoch gives exactly the model of an uninterrupted run"
    );
}

/// `finetune --dtype bf16` trains in bf16 (recorded in the recipe, said in the output, weights
/// not those of the f32 run with the same seed) and hands over a working model; int8 training
/// is refused with the flag and the choices named.
#[test]
fn training_in_bf16_is_recorded_and_int8_training_is_refused() {
    let env = Env::new();
    let f32_run = finetune_json(&env, &[]);
    let bf16_run = finetune_json(&env, &["--dtype", "bf16"]);
    assert_eq!(f32_run["recipe"]["dtype"], "f32");
    assert_eq!(bf16_run["recipe"]["dtype"], "bf16");
    let dir = |o: &serde_json::Value| Path::new(o["path"].as_str().unwrap()).to_path_buf();
    // Both runs must hand over their trained encoders for their weights to be compared.
    assert_eq!(
        (&f32_run["selected"], &bf16_run["selected"]),
        (&"finetuned".into(), &"finetuned".into())
    );
    let (a, b) = (weights(&dir(&f32_run)), weights(&dir(&bf16_run)));
    let most = a
        .iter()
        .zip(&b)
        .map(|((_, x), (_, y))| max_abs(x, y))
        .fold(0f32, f32::max);
    // Measured 2e-4 (the tiny model, seed 7).
    eprintln!("largest weight difference, bf16 run against f32 run: {most}");
    assert!(most > 0.0, "the bf16 run trained exactly as the f32 run did");
    assert!(most < 0.05, "the bf16 run drifted far from the f32 run: {most}");
    let id = bf16_run["model_id"].as_str().unwrap();
    env.ok(&["classify", "--model", id, "refund my card"]);

    let data = env.data();
    let mut args = vec!["finetune", "--data", data.as_str(), "--dtype", "int8"];
    args.extend_from_slice(FAST);
    let err = env.fails(&args);
    assert!(
        err.contains("--dtype") && err.contains("int8 is for inference") && !err.contains("panicked"),
        "{err}"
    );
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max)
}
