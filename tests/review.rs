//! Every review problem on small crafted files, with the lines it names.

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
    };
    let r = review(&ds, &ReviewOptions::default(), view).unwrap();
    assert_eq!(lines(&r, "truncated_texts"), vec![vec![5]]);
    assert_eq!(lines(&r, "possible_mislabels"), vec![vec![8]]);
    // Rows 0, 3 and 6 share a vector (same jitter) in cluster a: near-duplicates.
    let near = lines(&r, "near_duplicates");
    assert!(near.contains(&vec![2, 5]), "{near:?}");
    assert!(r.embedding_checks);
}
