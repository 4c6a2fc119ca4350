//! The encoder on a tiny random model: gradients reach every weight, finite differences agree
//! with backpropagation in f64, dropout is real and seeded, and save-then-load is exact.

mod common;

use attune::testing::TinySpec;
use attune::{Encoder, EncoderOptions, ForwardMode};
use candle_core::{DType, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use common::grad::{check_encoder_gradients, check_finite_differences, contrastive_loss};
use common::{files_under, max_abs_diff, snapshot, tiny_model, unchanged};

const TEXTS: &[&str] = &[
    "show me the cheap flight from boston to denver",
    "refund my card payment",
    "a",
    "how do i reset my password?",
];

#[test]
fn one_optimizer_step_changes_every_trainable_tensor() {
    let spec = TinySpec::default();
    let dir = tiny_model(&spec);
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let expected = 5 + 16 * spec.layers;
    assert_eq!(
        enc.vars().len(),
        expected,
        "every BERT weight is a variable, the pooler is not"
    );
    let before = snapshot(&enc);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let batch = enc.tokenize(TEXTS).unwrap();
    let emb = enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap();
    let loss = contrastive_loss(&emb);
    // No weight decay: any change must come from a gradient.
    let params = ParamsAdamW {
        lr: 1e-3,
        weight_decay: 0.0,
        ..Default::default()
    };
    let mut opt = AdamW::new(enc.vars(), params).unwrap();
    opt.backward_step(&loss).unwrap();
    let unchanged = unchanged(&before, &enc);
    assert!(unchanged.is_empty(), "no gradient reached: {unchanged:?}");
}

#[test]
fn finite_differences_agree_with_backprop_in_f64() {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default().with_dtype(DType::F64)).unwrap();
    check_encoder_gradients(&enc, TEXTS, 3);
}

/// The cross-entropy loss through a linear head (the `ce` recipe): finite differences in f64
/// agree with backpropagation for the head's weight and bias and for every encoder weight.
#[test]
fn cross_entropy_head_gradients_agree_with_finite_differences_in_f64() {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default().with_dtype(DType::F64)).unwrap();
    let batch = enc.tokenize(TEXTS).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let k = 3;
    let w: Vec<f64> = (0..enc.dim() * k).map(|_| rng.gen::<f64>() - 0.5).collect();
    let w = Var::from_tensor(&Tensor::from_vec(w, (k, enc.dim()), enc.device()).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::new(&[0.1f64, -0.2, 0.05], enc.device()).unwrap()).unwrap();
    let loss = || -> Tensor {
        let emb = enc.forward(&batch, &mut ForwardMode::Exact).unwrap();
        attune::train::loss::head_cross_entropy(&emb, w.as_tensor(), b.as_tensor(), &[0, 1, 2, 1]).unwrap()
    };
    let mut vars = enc.named_vars();
    vars.push(("head.weight".into(), w.clone()));
    vars.push(("head.bias".into(), b.clone()));
    check_finite_differences(&vars, &loss, &mut rng);
}

/// One training step of the `ce` recipe through the trainer changes every encoder weight and
/// the head it trains.
#[test]
fn one_cross_entropy_step_changes_every_trainable_tensor() {
    one_head_step_changes_everything(None);
}

/// The multi-label twin: a step of the per-label sigmoid loss (sets with two labels and none).
#[test]
fn one_multi_label_step_changes_every_trainable_tensor() {
    one_head_step_changes_everything(Some(vec![vec![0], vec![0, 1], vec![], vec![1]]));
}

fn one_head_step_changes_everything(sets: Option<Vec<Vec<usize>>>) {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let before = snapshot(&enc);
    let ckpt = tempfile::tempdir().unwrap();
    let k = 2;
    let data = attune::train::TrainData {
        texts: TEXTS.to_vec(),
        labels: vec![0, 1, 0, 1],
        n_labels: k,
        sets,
        windows: None,
        // A head that is not zero: at zero, no gradient flows back into the encoder.
        head: Some(attune::train::HeadInit {
            weights: (0..k * enc.dim()).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.1).collect(),
            bias: vec![0.0; k],
        }),
    };
    let cfg = attune::train::TrainConfig {
        loss: attune::train::LossKind::Ce,
        epochs: 1,
        batch_size: 4,
        learning_rate: 1e-3,
        warmup_ratio: 0.0,
        weight_decay: 0.0,
        ..Default::default()
    };
    let control = attune::train::Control::default();
    let setup = attune::train::RunSetup {
        ckpt_dir: ckpt.path(),
        resume: false,
        control: &control,
    };
    let report = attune::train::train(&enc, &data, &cfg, setup, &mut |_| Ok(0.0), &mut |_| {}).unwrap();
    assert_eq!(report.steps, 1);
    let unchanged = unchanged(&before, &enc);
    assert!(unchanged.is_empty(), "no gradient reached: {unchanged:?}");
    // The head is checkpointed beside the encoder (and moved off its zero start).
    let latest = std::fs::read_to_string(ckpt.path().join("LATEST")).unwrap();
    let t = candle_core::safetensors::load(
        ckpt.path().join(latest.trim()).join("weights.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let w = t["attune_head.weight"].flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let start: Vec<f32> = data.head.as_ref().unwrap().weights.clone();
    assert!(w.iter().zip(&start).all(|(a, b)| a != b), "every head weight moved");
    assert!(t["attune_head.bias"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .all(|x| *x != 0.0));
}

#[test]
fn fused_inference_matches_differentiable_path() {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let batch = enc.tokenize(TEXTS).unwrap();
    let fast = enc
        .forward(&batch, &mut ForwardMode::Inference)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let exact = enc
        .forward(&batch, &mut ForwardMode::Exact)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for (a, b) in fast.iter().zip(&exact) {
        assert!(max_abs_diff(a, b) < 1e-5);
    }
}

#[test]
fn a_frozen_encoder_embeds_alike_on_transposed_copies_of_its_linear_layers() {
    let dir = tiny_model(&TinySpec::default());
    let plain = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let mut frozen = Encoder::load(dir.path(), &EncoderOptions::default().frozen()).unwrap();
    let (a, b) = (plain.embed(TEXTS, 4).unwrap(), frozen.embed(TEXTS, 4).unwrap());
    for (x, y) in a.iter().zip(&b) {
        assert!(max_abs_diff(x, y) < 1e-6, "{}", max_abs_diff(x, y));
    }
    // One copy of each linear layer's weight matrix and bias, and nothing else.
    let linear: u64 = plain
        .named_vars()
        .iter()
        .filter(|(n, v)| n.contains("encoder.layer.") && v.rank() == 2)
        .map(|(_, v)| (v.elem_count() + v.dims()[0]) as u64 * 4)
        .sum();
    assert!(linear > 0);
    assert_eq!(frozen.memory_bytes(), plain.memory_bytes() + linear);
    // Another precision drops the copies (int8's are a quarter of the size); f32 makes them again.
    frozen.set_precision(attune::Precision::Int8).unwrap();
    let int8 = frozen.memory_bytes() - plain.memory_bytes();
    assert!(
        int8 > 0 && int8 < linear / 2,
        "{int8} bytes of int8 copies for {linear}"
    );
    frozen.set_precision(attune::Precision::F32).unwrap();
    assert_eq!(frozen.memory_bytes(), plain.memory_bytes() + linear);
}

#[test]
fn dropout_runs_in_training_and_is_seeded() {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let batch = enc.tokenize(TEXTS).unwrap();
    let run = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        enc.forward(&batch, &mut ForwardMode::Train(&mut rng))
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
    };
    let exact = enc
        .forward(&batch, &mut ForwardMode::Exact)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(run(5), run(5), "the same seed gives the same dropout");
    assert_ne!(run(5), run(6));
    assert!(
        max_abs_diff(&run(5)[0], &exact[0]) > 1e-3,
        "dropout changes the output in training"
    );
}

#[test]
fn padding_does_not_change_an_embedding() {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let alone = enc.embed(&["refund my card payment"], 8).unwrap();
    let padded = enc.embed(&["refund my card payment", TEXTS[0]], 8).unwrap();
    assert!(max_abs_diff(&alone[0], &padded[0]) < 1e-6);
}

/// Several batches run at once on the CPU (one per thread); each text's row must be the one
/// that batches run one at a time give, in input order, and progress must count every text.
#[test]
fn batches_run_at_once_give_the_rows_of_one_at_a_time() {
    let spec = TinySpec {
        max_seq_length: 12,
        ..TinySpec::default()
    };
    let dir = tiny_model(&spec);
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let texts: Vec<String> = (0..37)
        .map(|i| format!("{} {}", TEXTS[i % TEXTS.len()], "flight ".repeat(i % 9)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
    let chunked = attune::encoder::LongText::chunk();
    let (serial, serial_long) = pool(1).install(|| {
        (
            enc.embed(&refs, 3).unwrap(),
            enc.embed_long(&refs, 3, &chunked).unwrap(),
        )
    });
    let mut seen = Vec::new();
    let (parallel, parallel_long) = pool(4).install(|| {
        (
            enc.embed_with_progress(&refs, 3, &mut |done| seen.push(done)).unwrap(),
            enc.embed_long(&refs, 3, &chunked).unwrap(),
        )
    });
    assert_eq!(parallel.len(), refs.len());
    for (i, (a, b)) in serial.iter().zip(&parallel).enumerate() {
        assert!(max_abs_diff(a, b) < 1e-6, "text {i}: {}", max_abs_diff(a, b));
    }
    for (i, (a, b)) in serial_long.iter().zip(&parallel_long).enumerate() {
        assert!(max_abs_diff(a, b) < 1e-6, "chunked text {i}: {}", max_abs_diff(a, b));
    }
    // 13 batches of at most 3 texts, in groups of 4: the last report is every text.
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&refs.len()));
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[test]
fn truncates_at_max_seq_length_not_tokenizer_default() {
    let spec = TinySpec {
        max_seq_length: 10,
        ..TinySpec::default()
    };
    let dir = tiny_model(&spec);
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let long = "the flight ".repeat(30);
    assert_eq!(enc.tokenizer().lengths(&[&long, "a"]).unwrap(), vec![10, 3]);
    let batch = enc.tokenize(&[&long, "a"]).unwrap();
    assert_eq!(batch.ids.dims(), &[2, 10], "padded to the longest in the batch");
    let enc = Encoder::load(dir.path(), &EncoderOptions::default().with_max_seq_length(6)).unwrap();
    assert_eq!(enc.tokenizer().lengths(&[&long]).unwrap(), vec![6]);
}

#[test]
fn save_then_load_gives_identical_embeddings() {
    let dir = tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    // Train one step so the saved weights differ from the original file.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let batch = enc.tokenize(TEXTS).unwrap();
    let loss = contrastive_loss(&enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap());
    let mut opt = AdamW::new_lr(enc.vars(), 1e-2).unwrap();
    opt.backward_step(&loss).unwrap();
    let trained = enc.embed(TEXTS, 2).unwrap();
    let original = Encoder::load(dir.path(), &EncoderOptions::default())
        .unwrap()
        .embed(TEXTS, 2)
        .unwrap();
    assert!(
        max_abs_diff(&trained[0], &original[0]) > 1e-4,
        "the step changed the model"
    );

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("saved");
    enc.save(&dest).unwrap();
    let files = files_under(&dest);
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.txt",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing from {files:?}");
    }
    let reloaded = Encoder::load(&dest, &EncoderOptions::default()).unwrap();
    assert_eq!(reloaded.embed(TEXTS, 2).unwrap(), trained, "save then load is exact");
    let saved = candle_core::safetensors::load(dest.join("model.safetensors"), &candle_core::Device::Cpu).unwrap();
    assert!(
        saved.contains_key("pooler.dense.weight"),
        "unused checkpoint tensors survive a save"
    );

    // Saving over an existing folder replaces it whole and leaves no temporary folder behind.
    enc.save(&dest).unwrap();
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1);
}

/// Training in bf16 (`--dtype bf16`): every weight still gets a gradient and moves after a
/// step, the gradients stay close to f32's (the operands of each product lose 8 bits, the sums
/// and the weights do not), and int8 is refused for training.
#[test]
fn bf16_training_reaches_every_weight_with_gradients_near_f32s() {
    let dir = tiny_model(&TinySpec::default());
    let f32_enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let mut enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    enc.set_training_precision(attune::Precision::Bf16).unwrap();
    assert_eq!(enc.training_precision(), attune::Precision::Bf16);
    let grads = |e: &Encoder| {
        let batch = e.tokenize(TEXTS).unwrap();
        let g = contrastive_loss(&e.forward(&batch, &mut ForwardMode::Exact).unwrap())
            .backward()
            .unwrap();
        e.named_vars()
            .into_iter()
            .map(|(n, v)| {
                let t = g.get(v.as_tensor()).unwrap_or_else(|| panic!("no gradient for {n}"));
                (n, t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            })
            .collect::<Vec<_>>()
    };
    let (want, got) = (grads(&f32_enc), grads(&enc));
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let largest = want.iter().map(|(_, a)| norm(a)).fold(0f64, f64::max);
    let mut worst = (0f64, String::new());
    for ((n, a), (_, b)) in want.iter().zip(&got) {
        let diff: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        assert!(a != b, "{n}: the bf16 products were not used");
        // The key bias's gradient is zero in exact arithmetic (softmax ignores a score added to
        // every key alike): f32 gives rounding noise there, so it has no relative error to keep.
        if norm(a) < 1e-4 * largest {
            continue;
        }
        let rel = norm(&diff) / norm(a);
        if rel > worst.0 {
            worst = (rel, n.clone());
        }
    }
    eprintln!(
        "largest relative gradient difference, bf16 against f32: {:.2e} ({})",
        worst.0, worst.1
    );
    // Measured 5.2e-3 at most (bf16 rounds an operand by 2^-8 at most); 0.02 leaves room for other seeds.
    assert!(worst.0 < 0.02, "bf16 gradients far from f32's: {worst:?}");

    let before = snapshot(&enc);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let batch = enc.tokenize(TEXTS).unwrap();
    let loss = contrastive_loss(&enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap());
    let params = ParamsAdamW {
        lr: 1e-3,
        weight_decay: 0.0,
        ..Default::default()
    };
    AdamW::new(enc.vars(), params).unwrap().backward_step(&loss).unwrap();
    let unchanged = unchanged(&before, &enc);
    assert!(unchanged.is_empty(), "no gradient reached in bf16: {unchanged:?}");

    let err = enc
        .set_training_precision(attune::Precision::Int8)
        .unwrap_err()
        .to_string();
    assert!(err.contains("int8 is for inference") && err.contains("bf16"), "{err}");
}
