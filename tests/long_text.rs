//! Long texts in windows (`--long-text chunk`) on a tiny random model: window boundaries at
//! token level, a text that fits embeds as with truncation, and the pooled vector is the mean
//! (or max) of the windows' embeddings computed by hand.

mod common;

use attune::encoder::{ChunkPool, Encoder, EncoderOptions, LongText, LongTextMode};
use attune::testing::TinySpec;

use common::{max_abs_diff, tiny_model};

/// `n` content tokens: "flight" is one token of the tiny vocabulary.
fn text_of(n: usize) -> String {
    vec!["flight"; n].join(" ")
}

fn encoder() -> (tempfile::TempDir, Encoder) {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    (dir, enc)
}

#[test]
fn windows_follow_the_model_length_and_the_stride() {
    let (_d, enc) = encoder();
    // max_seq_length 24 with [CLS] and [SEP]: 22 content tokens a window.
    let w = enc.window_tokens();
    assert_eq!(w, 22);
    let chunk = |stride| LongText {
        mode: LongTextMode::Chunk,
        stride: Some(stride),
        pool: ChunkPool::Mean,
    };
    let exact = enc.windows(&text_of(w), &chunk(w)).unwrap();
    assert_eq!(exact.len(), 1, "a text of exactly max_seq_length tokens is one window");
    assert_eq!(exact[0].ids.len(), enc.max_seq_length());
    let long = text_of(w * 5 / 2);
    let three = enc.windows(&long, &chunk(w)).unwrap();
    assert_eq!(three.len(), 3, "2.5 windows long, stride one window: three");
    assert_eq!(
        three.iter().map(|x| x.ids.len() - 2).collect::<Vec<_>>(),
        vec![22, 22, 11]
    );
    assert_eq!(enc.windows(&long, &chunk(11)).unwrap().len(), 4);
    // Every window is [CLS] ... [SEP] as the tokenizer writes them, and its span is text.
    let whole = enc.tokenize(&["flight"]).unwrap().ids.to_vec2::<u32>().unwrap()[0].clone();
    for x in &three {
        assert_eq!(x.ids[0], whole[0]);
        assert_eq!(x.ids.last(), whole.last());
        assert!(long[x.span.0..x.span.1].starts_with("flight"));
    }
    let bad = LongText {
        stride: Some(w + 1),
        ..LongText::chunk()
    };
    assert!(enc
        .windows(&long, &bad)
        .unwrap_err()
        .to_string()
        .contains("--chunk-stride"));
}

#[test]
fn a_text_that_fits_embeds_as_with_truncation() {
    let (_d, enc) = encoder();
    let texts = ["flight to boston", "refund my card please"];
    let plain = enc.embed(&texts, 8).unwrap();
    let chunked = enc.embed_long(&texts, 8, &LongText::chunk()).unwrap();
    for (a, b) in plain.iter().zip(&chunked) {
        assert!(max_abs_diff(a, b) < 1e-6, "{}", max_abs_diff(a, b));
    }
}

#[test]
fn pooling_matches_a_hand_computation() {
    let (_d, enc) = encoder();
    let long = format!("{} {} {}", text_of(20), ["refund card"; 10].join(" "), text_of(15));
    for pool in [ChunkPool::Mean, ChunkPool::Max] {
        let lt = LongText {
            mode: LongTextMode::Chunk,
            stride: Some(10),
            pool,
        };
        let windows = enc.windows(&long, &lt).unwrap();
        assert!(windows.len() >= 3);
        // Each window embedded alone, then pooled and normalised by hand.
        let each: Vec<Vec<f32>> = windows
            .iter()
            .map(|w| enc.embed_ids(&[w.ids.as_slice()], 1).unwrap().remove(0))
            .collect();
        let mut want = vec![0f32; enc.dim()];
        for (i, v) in want.iter_mut().enumerate() {
            let col = each.iter().map(|e| e[i]);
            *v = match pool {
                ChunkPool::Mean => col.sum::<f32>() / each.len() as f32,
                ChunkPool::Max => col.fold(f32::NEG_INFINITY, f32::max),
            };
        }
        let norm = want.iter().map(|x| x * x).sum::<f32>().sqrt();
        want.iter_mut().for_each(|x| *x /= norm);
        let got = enc.embed_long(&[long.as_str(), "flight"], 4, &lt).unwrap();
        assert!(
            max_abs_diff(&got[0], &want) < 1e-5,
            "{pool:?}: {}",
            max_abs_diff(&got[0], &want)
        );
        // The long text's tail now counts: its vector differs from the truncated one.
        let cut = enc.embed(&[long.as_str()], 4).unwrap();
        assert!(max_abs_diff(&got[0], &cut[0]) > 1e-3);
    }
}

/// Training sees every window of a long text over the epochs, the same ones on every run.
#[test]
fn training_draws_every_window_of_a_long_text() {
    let data = attune::train::TrainData {
        texts: vec!["whole text", "short"],
        labels: vec![0, 1],
        n_labels: 2,
        sets: None,
        windows: Some(vec![vec!["w0", "w1", "w2"], vec!["short"]]),
        head: None,
    };
    let seen: std::collections::BTreeSet<&str> = (1..=40).map(|e| data.text(0, e, 42)).collect();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(data.text(0, 5, 42), data.text(0, 5, 42));
    assert_eq!(data.text(1, 3, 42), "short");
}

/// `finetune --long-text chunk` trains on windows of long texts, measures with pooled windows
/// and records the setting, which `map` of the stored model then follows.
#[test]
fn a_chunked_fine_tune_runs_and_records_its_setting() {
    let home = tempfile::tempdir().unwrap();
    let base = tiny_model(&TinySpec::default());
    let mut csv = String::from("text,label\n");
    let groups = [
        ("travel", "flight fare airport ticket"),
        ("money", "card payment refund price"),
    ];
    for i in 0..20 {
        for (label, words) in groups {
            // 29 to 52 tokens, the words that tell the labels apart past the first 22 (one
            // window of the tiny model).
            let t = format!("{} {} {}", "the ".repeat(25 + i), words, "a ".repeat(i % 5));
            csv.push_str(&format!("{t},{label}\n"));
        }
    }
    let data = home.path().join("long.csv");
    std::fs::write(&data, csv).unwrap();
    let run = |long: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_attune"))
            .args([
                "finetune",
                "--data",
                data.to_str().unwrap(),
                "--json",
                "--epochs",
                "2",
                "--batch-size",
                "8",
            ])
            .args(long)
            .env("ATTUNE_HOME", home.path().join("reg"))
            .env("HF_HUB_OFFLINE", "1")
            .env("ATTUNE_BASE", base.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = run(&["--long-text", "chunk", "--chunk-stride", "11"]);
    let dir = std::path::PathBuf::from(v["path"].as_str().unwrap());
    let m = attune::finetune::Manifest::read(&dir).unwrap();
    assert_eq!(m.options.long_text.mode, LongTextMode::Chunk);
    assert_eq!(m.options.long_text.stride, Some(11));
    // The model embeds as its run did: `eval` on its own test rows, with no flag, gives the
    // figures the run reported.
    let eval = std::process::Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["eval", "--model", v["model_id"].as_str().unwrap(), "--json", "--data"])
        .arg(dir.join("test.csv"))
        .env("ATTUNE_HOME", home.path().join("reg"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let e: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let kept = if v["selected"] == "base" {
        "baseline"
    } else {
        "finetuned"
    };
    let reported = v["metrics"][kept]["loss"].as_f64().unwrap();
    assert!(
        (e["loss"].as_f64().unwrap() - reported).abs() < 1e-5,
        "eval {e} vs reported {reported}"
    );
    // Truncated, every text is the same 22 tokens: the head learns nothing and answers 1/2
    // for both labels (cross-entropy ln 2; which label wins is rounding noise). In windows the
    // words past them count.
    let cut = run(&[]);
    let loss = |v: &serde_json::Value| v["metrics"]["baseline"]["loss"].as_f64().unwrap();
    assert!((loss(&cut) - 2f64.ln()).abs() < 1e-3, "{cut}");
    assert!(loss(&v) < 0.6, "{v}");
}
