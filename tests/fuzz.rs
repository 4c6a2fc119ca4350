//! Property tests standing in for fuzzing (cargo-fuzz needs a nightly toolchain that CI does not
//! have): the dataset reader over arbitrary bytes in every format and with every column option,
//! the review of whatever it reads, and the API over arbitrary request bodies against a real
//! server. CI runs the default number of cases; `PROPTEST_CASES=100000 cargo test --test fuzz`
//! runs long (BENCHMARKS.md, "Hardening", says how long it ran and what it found).

mod common;

use attune::data::review::{review, ModelView, ReviewOptions};
use attune::data::{Dataset, LoadOptions};
use attune::finetune::FinetuneOptions;
use attune::testing::TinySpec;
use proptest::prelude::*;

/// Bytes that look like a labelled file often enough to reach deep into the readers: the
/// delimiters, quotes, line endings and braces, a header now and then, and some garbage.
fn file_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b":".to_vec()),
        Just(b"text,label\n".to_vec()),
        Just(b"{\"text\": \"a\", \"label\": \"b\"}\n".to_vec()),
        Just("é€😀".as_bytes().to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        "[a-z ]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn column() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("text".to_string())),
        Just(Some("label".to_string())),
        "[a-z]{0,4}".prop_map(Some)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_reader_and_the_review_take_any_bytes(
        bytes in file_bytes(),
        ext in prop_oneof![Just("csv"), Just("tsv"), Just("jsonl")],
        text_column in column(),
        label_column in column(),
        label_separator in prop_oneof![Just(None), Just(Some("+".to_string())), Just(Some("|".to_string()))],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("data.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        let opts = LoadOptions { text_column, label_column, label_separator, separator_may_be_absent: false };
        if let Ok(ds) = Dataset::load(&path, &opts) {
            let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
            for e in &ds.examples {
                prop_assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            }
            for b in &ds.bad_rows {
                prop_assert!(b.line >= 1 && b.line <= lines, "bad line {} of {lines}", b.line);
            }
            let r = review(&ds, &ReviewOptions::default(), ModelView::default()).unwrap();
            prop_assert_eq!(r.rows, ds.examples.len());
        }
    }

    #[test]
    fn settings_that_pass_the_check_are_within_the_caps(
        epochs in proptest::option::of(0usize..5000),
        lr in proptest::option::of(-1.0f64..10.0),
        batch in proptest::option::of(0usize..5000),
        steps in proptest::option::of(0usize..2_000_000),
    ) {
        let mut o = FinetuneOptions::default();
        o.train.epochs = epochs;
        o.train.learning_rate = lr;
        o.train.batch_size = batch;
        o.train.max_steps = steps;
        if o.validate().is_ok() {
            prop_assert!(epochs.is_none_or(|e| (1..=1000).contains(&e)));
            prop_assert!(lr.is_none_or(|l| (0.0..=0.01).contains(&l)));
            prop_assert!(batch.is_none_or(|b| (4..=1024).contains(&b)));
            prop_assert!(steps.is_none_or(|s| (1..=1_000_000).contains(&s)));
        }
    }
}

/// Arbitrary JSON: the API's fields with values of every type, and unknown fields.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "[a-z/.]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("TINY")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("texts".to_string()),
                    Just("inputs".to_string()),
                    Just("input".to_string()),
                    Just("model".to_string()),
                    Just("examples".to_string()),
                    Just("text".to_string()),
                    Just("label".to_string()),
                    Just("embedding_types".to_string()),
                    Just("truncate".to_string()),
                    Just("settings".to_string()),
                    Just("epochs".to_string()),
                    Just("name".to_string()),
                    Just("dataset_id".to_string()),
                    "[a-z]{1,6}".prop_map(String::from),
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the placeholder "TINY" by the allowed tiny model, so some requests get far.
fn with_model(v: serde_json::Value, model: &str) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if s == "TINY" => serde_json::Value::from(model),
        serde_json::Value::Array(a) => a.into_iter().map(|x| with_model(x, model)).collect(),
        serde_json::Value::Object(o) => o.into_iter().map(|(k, x)| (k, with_model(x, model))).collect(),
        other => other,
    }
}

#[test]
fn the_api_answers_any_body_with_json_and_never_a_5xx() {
    let base = common::tiny_model(&TinySpec::default());
    let bm = base.path().to_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let server = common::Server::start(home.path(), &["--allow-model", &bm, "--no-jobs"], &[]);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let routes = ["/v1/embed", "/v1/classify", "/v1/embeddings", "/v1/finetuned-models"];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&(json_value(), 0..routes.len()), |(body, r)| {
            let body = with_model(body, &bm);
            let resp = agent
                .post(server.url(routes[r]))
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .unwrap();
            let status = resp.status().as_u16();
            let text = resp.into_body().read_to_string().unwrap_or_default();
            prop_assert!(status < 500, "{} {body}: {status} {text}", routes[r]);
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{} {body}: not JSON ({e}): {text}", routes[r])))?;
            if status >= 400 {
                // OpenAI's route answers in OpenAI's envelope.
                let message = if routes[r] == "/v1/embeddings" {
                    &v["error"]["message"]
                } else {
                    &v["message"]
                };
                prop_assert!(message.is_string(), "{} {body}: {text}", routes[r]);
            }
            Ok(())
        })
        .unwrap();
}
