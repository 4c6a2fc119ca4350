//! The word-embedding table updated by rows (what the trainer does) against candle's dense
//! gradient with dense AdamW: the same weights after several steps, including rows that had a
//! gradient in an earlier step but not in this one, and rows that never had one (decay only).
//! Also: the row moments survive a save and load, and the tensor-op update (the path weights on
//! a GPU take) equals the fused CPU kernel.

mod common;

use attune::encoder::WORD_TABLE;
use attune::testing::TinySpec;
use attune::train::optim::{AdamW, AdamWConfig};
use attune::{Encoder, EncoderOptions, ForwardMode};
use candle_core::Tensor;
use rand::SeedableRng;

const STEPS: [&[&str]; 3] = [
    &[
        "refund my card",
        "where is my parcel",
        "reset the password",
        "cheap flights",
    ],
    &["cheap flights", "book a table", "card declined"],
    &["where is my parcel", "parcel parcel parcel", "hello"],
];

fn train(rows: bool) -> (Encoder, AdamW) {
    let dir = common::tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let cfg = AdamWConfig {
        weight_decay: 0.1,
        ..Default::default()
    };
    let mut opt = AdamW::new(enc.named_vars(), cfg).unwrap();
    if rows {
        opt = opt.with_row_updates(WORD_TABLE).unwrap();
        enc.capture_word_rows(true);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for texts in STEPS {
        let batch = enc.tokenize(texts).unwrap();
        let emb = enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap();
        let w = Tensor::arange(0f32, emb.elem_count() as f32, emb.device())
            .unwrap()
            .reshape(emb.shape())
            .unwrap()
            .sin()
            .unwrap();
        let grads = (emb * w).unwrap().sum_all().unwrap().backward().unwrap();
        opt.step_rows(&grads, 1e-2, &enc.take_word_rows()).unwrap();
    }
    (enc, opt)
}

#[test]
fn row_updates_equal_dense_adamw() {
    let (dense, _) = train(false);
    let (rows, _) = train(true);
    let before = {
        let dir = common::tiny_model(&TinySpec::default());
        Encoder::load(dir.path(), &EncoderOptions::default()).unwrap()
    };
    let old = before.named_vars();
    for ((name, a), ((_, b), (_, o))) in dense.named_vars().iter().zip(rows.named_vars().iter().zip(&old)) {
        let d = common::max_abs_diff(
            &a.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            &b.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert!(d <= 1e-6, "{name}: row updates differ from dense AdamW by {d}");
        let moved = common::max_abs_diff(
            &a.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            &o.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert!(moved > 0.0, "{name} did not change");
    }
}

#[test]
fn row_moments_survive_save_and_load() {
    let (enc, opt) = train(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opt.safetensors");
    opt.save(&path).unwrap();
    let mut back = AdamW::new(enc.named_vars(), AdamWConfig::default())
        .unwrap()
        .with_row_updates(WORD_TABLE)
        .unwrap();
    back.load(&path).unwrap();
    let again = dir.path().join("again.safetensors");
    back.save(&again).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn a_row_table_without_rows_is_an_error() {
    let dir = common::tiny_model(&TinySpec::default());
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let mut opt = AdamW::new(enc.named_vars(), AdamWConfig::default())
        .unwrap()
        .with_row_updates(WORD_TABLE)
        .unwrap();
    // Capture is off: the table is in the graph and the optimizer gets no rows.
    let batch = enc.tokenize(&["hello there"]).unwrap();
    let emb = enc.forward(&batch, &mut ForwardMode::Exact).unwrap();
    let grads = emb.sum_all().unwrap().backward().unwrap();
    let err = opt.step_rows(&grads, 1e-3, &enc.take_word_rows()).unwrap_err();
    assert!(err.to_string().contains("capture_word_rows"), "{err}");
}

/// The same gradients (a linear loss, so they do not depend on the weights) through both paths
/// for several steps: the moments and weights must agree. (Through a real model the two runs
/// drift apart after a few steps: where a gradient is near AdamW's eps, an ulp of difference in
/// the weights changes the update by up to lr/eps = 1e4 times as much.)
#[test]
fn the_tensor_op_update_equals_the_fused_kernel() {
    use candle_core::{Device, Var};
    let init: Vec<f32> = (0..4099).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let run = |tensor_moments: bool| -> (Vec<f32>, AdamW) {
        let w = Var::from_vec(init.clone(), init.len(), &Device::Cpu).unwrap();
        let mut opt = AdamW::new(vec![("layer.weight".into(), w.clone())], AdamWConfig::default()).unwrap();
        if tensor_moments {
            opt = opt.with_tensor_moments().unwrap();
        }
        for step in 0..4 {
            // Gradients of every size, exact zeros and values near eps among them.
            let c: Vec<f32> = (0..init.len())
                .map(|i| match (i + step) % 5 {
                    0 => 0.0,
                    1 => 1e-7 * (i as f32).sin(),
                    _ => ((i * (step + 3)) as f32).cos(),
                })
                .collect();
            let c = Tensor::from_vec(c, init.len(), &Device::Cpu).unwrap();
            let grads = (w.as_tensor() * c).unwrap().sum_all().unwrap().backward().unwrap();
            opt.step(&grads, 1e-2 / (step + 1) as f64).unwrap();
        }
        (w.as_tensor().to_vec1::<f32>().unwrap(), opt)
    };
    let (fused, _) = run(false);
    let (tensor, opt) = run(true);
    let d = common::max_abs_diff(&fused, &tensor);
    assert!(d <= 1e-6, "tensor-op AdamW differs from the fused kernel by {d}");
    let moved = common::max_abs_diff(&fused, &init);
    assert!(moved > 1e-3, "the weights hardly moved ({moved})");
    // Its moments save and load like the others.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opt.safetensors");
    opt.save(&path).unwrap();
    let w = Var::from_vec(init.clone(), init.len(), &Device::Cpu).unwrap();
    let mut back = AdamW::new(vec![("layer.weight".into(), w)], AdamWConfig::default())
        .unwrap()
        .with_tensor_moments()
        .unwrap();
    back.load(&path).unwrap();
    let again = dir.path().join("again.safetensors");
    back.save(&again).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
}
