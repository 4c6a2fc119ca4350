//! Every model family against the reference implementation, on tiny random models made by
//! `transformers` and saved by sentence-transformers itself (`fixtures/make_family_fixtures.py`
//! for 6.x, `fixtures/make_st5_fixture.py` for the 2.x-5.x folder format): the same token ids
//! and embeddings within 1e-4, gradients that reach every weight and agree with finite
//! differences in f64, a trainer step with row-updated word tables, a save that both folder
//! formats' readers load, and clear errors for an unknown family or a mismatched tokenizer.
//! These folders are committed, so none of this can skip.

mod common;

use std::path::PathBuf;

use attune::train::optim::{AdamW, AdamWConfig};
use attune::{Encoder, EncoderOptions, ForwardMode};
use candle_core::DType;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use common::grad::{check_encoder_gradients, contrastive_loss};
use common::{assert_both_paths_match, snapshot, unchanged};

/// Largest allowed difference to sentence-transformers, per element.
const TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Fixture {
    model_type: String,
    max_seq_length: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn folder(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/families")).join(name)
}

fn fixture(name: &str) -> Fixture {
    let path = folder(&format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn load(name: &str, dtype: DType) -> Encoder {
    Encoder::load(&folder(name), &EncoderOptions::default().with_dtype(dtype)).unwrap()
}

/// Token ids of `text` as attune gives them (truncated, without padding).
fn ids(enc: &Encoder, text: &str) -> Vec<u32> {
    let batch = enc.tokenize(&[text]).unwrap();
    let row = batch.ids.to_vec2::<u32>().unwrap().remove(0);
    row[..batch.lengths[0]].to_vec()
}

fn check_parity(name: &str) {
    check_parity_of(name, &load(name, DType::F32));
    // What embedding, classifying and serving load: inference on transposed weight copies.
    let frozen = EncoderOptions::default().frozen();
    check_parity_of(name, &Encoder::load(&folder(name), &frozen).unwrap());
}

fn check_parity_of(name: &str, enc: &Encoder) {
    let fx = fixture(name);
    assert_eq!(enc.max_seq_length(), fx.max_seq_length, "{name}: max_seq_length");
    let texts: Vec<&str> = fx.items.iter().map(|i| i.text.as_str()).collect();
    for item in &fx.items {
        assert_eq!(
            ids(enc, &item.text),
            item.input_ids,
            "{name}: token ids of {:?}",
            item.text
        );
    }
    assert!(
        fx.items.iter().any(|i| i.input_ids.len() == fx.max_seq_length),
        "{name}: the fixture has a text past the limit"
    );
    let want: Vec<&[f32]> = fx.items.iter().map(|i| i.embedding.as_slice()).collect();
    let worst = assert_both_paths_match(enc, &texts, &want, TOLERANCE, name);
    eprintln!("{name} ({}): worst difference {worst:e}", fx.model_type);
}

#[test]
fn bert_matches_sentence_transformers() {
    check_parity("bert");
}

#[test]
fn bert_saved_by_sentence_transformers_5_matches() {
    check_parity("bert_st5");
}

#[test]
fn mpnet_matches_sentence_transformers() {
    check_parity("mpnet");
}

#[test]
fn xlm_roberta_matches_sentence_transformers() {
    check_parity("xlm_roberta");
}

#[test]
fn modernbert_matches_sentence_transformers() {
    check_parity("modernbert");
}

#[test]
fn both_folder_formats_give_the_same_model() {
    let new = load("bert", DType::F32);
    let old = load("bert_st5", DType::F32);
    assert_eq!(new.max_seq_length(), old.max_seq_length());
    assert_eq!(new.sentence_config().pooling, old.sentence_config().pooling);
    let texts = ["cheap flights to boston", "a"];
    assert_eq!(new.embed(&texts, 2).unwrap(), old.embed(&texts, 2).unwrap());
}

const TEXTS: &[&str] = &[
    "show me the cheap flight from boston to denver",
    "Привет, как дела?",
    "a",
    "東京から大阪までの航空券はいくらですか",
];

/// Inference skips a batch's padding in the BERT-shaped families (the real tokens' rows packed,
/// `src/encoder/packing.rs`): each text must embed in a padded batch as it does alone, where
/// there is no padding to skip; on the weights themselves and on the frozen copies.
#[test]
fn a_text_embeds_alike_alone_and_in_a_padded_batch() {
    for name in ["bert", "mpnet", "xlm_roberta", "modernbert"] {
        for opts in [EncoderOptions::default(), EncoderOptions::default().frozen()] {
            let enc = Encoder::load(&folder(name), &opts).unwrap();
            let batch = enc.tokenize(TEXTS).unwrap();
            let (short, long) = (batch.lengths.iter().min(), batch.lengths.iter().max());
            assert!(short < long, "{name}: the batch has padding");
            let embed = |b: &attune::encoder::tokenize::TokenBatch| {
                enc.forward(b, &mut ForwardMode::Inference)
                    .unwrap()
                    .to_vec2::<f32>()
                    .unwrap()
            };
            for (text, row) in TEXTS.iter().zip(embed(&batch)) {
                let one = enc.tokenize(&[text]).unwrap();
                let alone = embed(&one).remove(0);
                let worst = row.iter().zip(&alone).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(worst < 1e-6, "{name}: {text:?} differs by {worst:e} in a padded batch");
            }
        }
    }
}

#[test]
fn one_step_changes_every_weight_of_every_family() {
    for name in ["mpnet", "xlm_roberta", "modernbert"] {
        let enc = load(name, DType::F32);
        let before = snapshot(&enc);
        let cfg = AdamWConfig {
            weight_decay: 0.0,
            ..Default::default()
        };
        // The trainer's optimizer, with the word table updated by rows as in training.
        let mut opt = AdamW::new(enc.named_vars(), cfg)
            .unwrap()
            .with_row_updates(&enc.word_table())
            .unwrap();
        enc.capture_word_rows(true);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let batch = enc.tokenize(TEXTS).unwrap();
        let emb = enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap();
        let grads = contrastive_loss(&emb).backward().unwrap();
        opt.step_rows(&grads, 1e-3, &enc.take_word_rows()).unwrap();
        let unchanged = unchanged(&before, &enc);
        assert!(unchanged.is_empty(), "{name}: no gradient reached {unchanged:?}");
    }
}

fn finite_differences(name: &str, seed: u64) {
    // Two texts keep it short: every variable is perturbed four times, twice each.
    check_encoder_gradients(&load(name, DType::F64), &TEXTS[..2], seed);
}

#[test]
fn mpnet_gradients_agree_with_finite_differences_in_f64() {
    finite_differences("mpnet", 1);
}

#[test]
fn xlm_roberta_gradients_agree_with_finite_differences_in_f64() {
    finite_differences("xlm_roberta", 2);
}

#[test]
fn modernbert_gradients_agree_with_finite_differences_in_f64() {
    finite_differences("modernbert", 3);
}

/// A save writes the folder format every sentence-transformers version reads, whatever
/// format the model came in, and loads back to the same embeddings.
#[test]
fn saved_folders_use_the_format_both_versions_read() {
    for name in ["bert", "mpnet", "xlm_roberta", "modernbert"] {
        let enc = load(name, DType::F32);
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("saved");
        enc.save(&dest).unwrap();
        let modules: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(dest.join("modules.json")).unwrap()).unwrap();
        assert!(
            modules
                .iter()
                .all(|m| m["type"].as_str().unwrap().starts_with("sentence_transformers.models.")),
            "{name}: {modules:?}"
        );
        let pooling: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dest.join("1_Pooling/config.json")).unwrap()).unwrap();
        assert_eq!(pooling["pooling_mode_mean_tokens"], true, "{name}: {pooling}");
        assert!(pooling.get("pooling_mode").is_none(), "{name}: {pooling}");
        let sbert: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dest.join("sentence_bert_config.json")).unwrap()).unwrap();
        assert_eq!(sbert["max_seq_length"], enc.max_seq_length(), "{name}");
        let back = Encoder::load(&dest, &EncoderOptions::default()).unwrap();
        assert_eq!(back.embed(TEXTS, 4).unwrap(), enc.embed(TEXTS, 4).unwrap(), "{name}");
        assert_eq!(
            back.sentence_config().normalize,
            enc.sentence_config().normalize,
            "{name}"
        );
    }
}

fn copy_folder(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for f in common::files_under(&folder(name)) {
        let to = tmp.path().join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(folder(name).join(&f), to).unwrap();
    }
    tmp
}

fn edit_json(path: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn unknown_model_type_names_the_supported_families() {
    let dir = copy_folder("bert");
    edit_json(&dir.path().join("config.json"), |v| v["model_type"] = "gpt2".into());
    let err = Encoder::load(dir.path(), &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    for family in ["gpt2", "bert", "mpnet", "xlm-roberta", "modernbert"] {
        assert!(err.contains(family), "{err}");
    }
}

#[test]
fn a_tokenizer_of_other_weights_is_a_clear_error() {
    // The XLM-R tokenizer (a larger vocabulary) beside the BERT weights.
    let dir = copy_folder("bert");
    std::fs::copy(
        folder("xlm_roberta").join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let err = Encoder::load(dir.path(), &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer.json") && err.contains("vocab_size"), "{err}");
    assert!(err.contains("does not belong to these weights"), "{err}");
}

#[test]
fn sentence_transformers_6_settings_are_read() {
    // 6.x keeps the limit in tokenizer_config.json; a "no limit" placeholder falls back to the
    // position table; a default prompt goes before every text.
    let dir = copy_folder("bert");
    edit_json(&dir.path().join("tokenizer_config.json"), |v| {
        v["model_max_length"] = 12.into()
    });
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    assert_eq!(enc.max_seq_length(), 12);
    edit_json(&dir.path().join("tokenizer_config.json"), |v| {
        v["model_max_length"] = serde_json::json!(1e30)
    });
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(
        enc.max_seq_length() as u64,
        cfg["max_position_embeddings"].as_u64().unwrap()
    );

    let plain = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    edit_json(&dir.path().join("config_sentence_transformers.json"), |v| {
        v["prompts"]["query"] = "query: ".into();
        v["default_prompt_name"] = "query".into();
    });
    let prompted = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    assert_eq!(
        prompted.embed(&["boston"], 1).unwrap(),
        plain.embed(&["query: boston"], 1).unwrap()
    );
    assert_eq!(ids(&prompted, "boston"), ids(&plain, "query: boston"));

    edit_json(&dir.path().join("1_Pooling/config.json"), |v| {
        v["pooling_mode"] = "weightedmean".into()
    });
    let err = Encoder::load(dir.path(), &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("weightedmean") && err.contains("not supported"), "{err}");
}

/// XLM-R's `tokenizer.json` as the Hub has it (made by transformers 4's converter: `Metaspace`
/// alone, spaces collapsed by the normaliser) tokenizes like the reference, which splits on
/// whitespace first: no extra `▁` for leading, trailing or repeated spaces.
#[test]
fn hub_style_xlm_r_tokenizer_matches_the_reference() {
    let dir = copy_folder("xlm_roberta");
    edit_json(&dir.path().join("tokenizer.json"), |t| {
        t["pre_tokenizer"] = serde_json::json!(
            {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true});
        let charsmap = t["normalizer"].clone();
        t["normalizer"] = serde_json::json!({"type": "Sequence", "normalizers": [
            charsmap, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]});
    });
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    check_parity_of("xlm_roberta", &enc);
}
