//! Every review problem on small crafted files, with the lines it names.

mod common;

use std::path::Path;

use attune::data::review::{review, ModelView, Review, ReviewOptions};
use attune::data::{Dataset, LoadOptions};

fn load(dir: &Path, name: &str, body: &[u8]) -> Dataset {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    Dataset::load(&p, &LoadOptions::default()).unwrap()
}

fn problem<'a>(r: &'a Review, kind: &str) -> &'a attune::data::Problem {
    r.problems
        .iter()
        .find(|p| p.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:#?}", r.problems))
}

fn lines(r: &Review, kind: &str) -> Vec<Vec<usize>> {
    problem(r, kind).lines.clone()
}

/// 12 rows each of labels a and b, then the crafted rows.
fn base_rows() -> String {
    let mut s = String::from("text,label\n");
    for i in 0..12 {
        s.push_str(&format!("alpha question number {i},a\nbeta request number {i},b\n"));
    }
    s
}

#[test]
fn each_problem_is_found_with_its_lines() {
    let d = tempfile::tempdir().unwrap();
    // Lines 2..25 are the base rows.
    let mut body = base_rows();
    body.push_str("alpha question number 1,a\n"); // 26: exact duplicate of line 4
    body.push_str("Beta Request  number 3,a\n"); // 27: same text as line 9 (b), other label
    body.push_str(",a\n"); // 28: empty text
    body.push_str("lonely,c\n"); // 29: a label with one row
    body.push_str("too,many,fields\n"); // 30: malformed
    let mut bytes = body.into_bytes();
    bytes.extend_from_slice(b"bad \xff bytes,a\n"); // 31: undecodable
    let ds = load(d.path(), "crafted.csv", &bytes);
    let r = review(&ds, &ReviewOptions::default(), ModelView::default()).unwrap();

    assert_eq!(r.rows, 28);
    assert_eq!(r.unreadable_rows, 2);
    assert_eq!(lines(&r, "unreadable_rows"), vec![vec![30], vec![31]]);
    assert!(problem(&r, "too_few_rows").message.contains("250"));
    assert_eq!(lines(&r, "duplicates"), vec![vec![4, 26]]);
    assert_eq!(lines(&r, "conflicting_labels"), vec![vec![9, 27]]);
    assert_eq!(lines(&r, "empty_texts"), vec![vec![28]]);
    let small = problem(&r, "small_labels");
    assert!(
        small.message.contains("c (1)") && small.message.contains("dropped from training"),
        "{}",
        small.message
    );
    assert_eq!(small.lines, vec![vec![29]]);
    assert!(!r.blocking);
    // Usable: the 24 base rows less line 9 (its text conflicts with line 27); lines 26-29 are
    // a repeat, a conflict, an empty text and a dropped label.
    assert_eq!(r.usable_rows, 23);
    assert!(r.labels.iter().any(|l| l.label == "c" && !l.trainable));
}

#[test]
fn min_rows_is_configurable_and_imbalance_is_flagged() {
    let d = tempfile::tempdir().unwrap();
    let mut body = String::from("text,label\n");
    for i in 0..120 {
        body.push_str(&format!("common text {i},big\n"));
    }
    for i in 0..6 {
        body.push_str(&format!("rare text {i},small\n"));
    }
    let ds = load(d.path(), "imb.csv", body.as_bytes());
    let opts = ReviewOptions {
        min_rows: 100,
        ..Default::default()
    };
    let r = review(&ds, &opts, ModelView::default()).unwrap();
    assert!(r.problems.iter().all(|p| p.kind != "too_few_rows"));
    assert!(problem(&r, "class_imbalance").message.contains("20x"));
}

#[test]
fn a_single_label_blocks_training() {
    let d = tempfile::tempdir().unwrap();
    let ds = load(d.path(), "one.csv", b"text,label\na,x\nb,x\nc,x\nd,x\ne,x\nf,y\n");
    let r = review(&ds, &ReviewOptions::default(), ModelView::default()).unwrap();
    assert!(r.blocking);
    assert_eq!(problem(&r, "too_few_labels").severity, attune::data::Severity::Blocking);
}

#[test]
fn truncation_mislabels_and_near_duplicates_use_the_model_view() {
    let d = tempfile::tempdir().unwrap();
    let mut body = String::from("text,label\n");
    // Two clusters in embedding space; line 2+6=8 sits in cluster a but is labelled b.
    for i in 0..6 {
        body.push_str(&format!("a text {i},a\n"));
    }
    body.push_str("odd one,b\n");
    for i in 0..6 {
        body.push_str(&format!("b text {i},b\n"));
    }
    let ds = load(d.path(), "emb.csv", body.as_bytes());
    let n = ds.examples.len();
    let emb: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            let cluster_a = i <= 6;
            let jitter = 0.3 * (i as f32 % 3.0);
            if cluster_a {
                vec![1.0, jitter, 0.0]
            } else {
                vec![0.0, jitter, 1.0]
            }
        })
        .collect();
    let mut tokens = vec![10usize; n];
    tokens[3] = 400;
    let view = ModelView {
        tokens: Some((&tokens, 256)),
        embeddings: Some(&emb),
        language: None,
    };
    let r = review(&ds, &ReviewOptions::default(), view).unwrap();
    assert_eq!(lines(&r, "truncated_texts"), vec![vec![5]]);
    assert_eq!(lines(&r, "possible_mislabels"), vec![vec![8]]);
    // Rows 0, 3 and 6 share a vector (same jitter) in cluster a: near-duplicates.
    let near = lines(&r, "near_duplicates");
    assert!(near.contains(&vec![2, 5]), "{near:?}");
    assert!(r.embedding_checks);
}

/// Russian texts under the English-only default model: the review says the language does not
/// fit and names multilingual bases; the same file under a model folder attune does not know
/// (nothing said of its languages) gets no such warning.
#[test]
fn a_language_the_base_model_was_not_trained_on_is_named() {
    let d = tempfile::tempdir().unwrap();
    let mut body = String::from("text,label\n");
    for i in 0..15 {
        body.push_str(&format!(
            "Где мой заказ номер {i}?,delivery\nВерните деньги за билет {i},refund\n"
        ));
    }
    let ds = load(d.path(), "ru.csv", body.as_bytes());
    let model = common::real_model();
    let mut load_model = || attune::Encoder::load(&model, &attune::EncoderOptions::default());
    let r = attune::data::review_with_model(&ds, &ReviewOptions::default(), Some(&mut load_model)).unwrap();
    let p = problem(&r, "language_mismatch");
    assert!(
        p.message.contains("Cyrillic") && p.fix.contains("multilingual"),
        "{p:?}"
    );

    let copy = tempfile::tempdir().unwrap();
    for f in common::files_under(&model) {
        let to = copy.path().join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(model.join(&f), to).unwrap();
    }
    let mut load_copy = || attune::Encoder::load(copy.path(), &attune::EncoderOptions::default());
    let r = attune::data::review_with_model(&ds, &ReviewOptions::default(), Some(&mut load_copy)).unwrap();
    assert!(
        r.problems.iter().all(|p| p.kind != "language_mismatch"),
        "{:#?}",
        r.problems
    );
}
