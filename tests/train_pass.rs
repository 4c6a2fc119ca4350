//! The training pass that runs a batch's two halves on two threads (`attune::train::pass`):
//! its gradients are the unsplit pass's (dropout off, so both see the same network), for the
//! encoder's weights, the word-table rows and a head's weights; and with dropout on, a run gives
//! the same gradients on any number of threads.

mod common;

use std::collections::HashMap;

use attune::encoder::TokenBatch;
use attune::testing::TinySpec;
use attune::train::loss::{head_cross_entropy, in_batch_cosine};
use attune::train::pass::forward_backward;
use attune::{Encoder, EncoderOptions, ForwardMode};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use common::tiny_model;

const TEXTS: &[&str] = &[
    "show me the cheap flight from boston to denver",
    "refund my card payment",
    "a",
    "how do i reset my password?",
    "flights to denver tomorrow morning please",
];
const LABELS: &[usize] = &[0, 1, 2, 1, 0];

/// A tiny model with its dropout set to `p`, loaded with word-row capture on (as the trainer
/// runs it), and the batch of [`TEXTS`]; the folder lives as long as the first value.
fn setup(p: f64) -> (tempfile::TempDir, Encoder, TokenBatch) {
    let dir = tiny_model(&TinySpec {
        dropout: p,
        ..TinySpec::default()
    });
    let enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    enc.capture_word_rows(true);
    let batch = enc.tokenize(TEXTS).unwrap();
    (dir, enc, batch)
}

/// Every gradient by name: the encoder's variables, `extra` (a head's variables), and the word
/// table's as one dense sum of its captured rows.
fn gradients(enc: &Encoder, grads: &GradStore, extra: &[(&str, &Var)]) -> HashMap<String, Vec<f32>> {
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut vars = enc.named_vars();
    vars.extend(extra.iter().map(|(n, v)| (n.to_string(), (*v).clone())));
    let mut out = HashMap::new();
    for (name, var) in &vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            out.insert(name.clone(), flat(g));
        }
    }
    let table = enc.word_table();
    assert!(!out.contains_key(&table), "the table's gradient comes as rows");
    let (rows, hidden) = vars.iter().find(|(n, _)| *n == table).unwrap().1.dims2().unwrap();
    let mut dense = vec![0f32; rows * hidden];
    for lookup in enc.take_word_rows() {
        let g = flat(
            grads
                .get(lookup.rows.as_tensor())
                .expect("every captured row has a gradient"),
        );
        for (k, id) in lookup.ids.iter().enumerate() {
            for j in 0..hidden {
                dense[*id as usize * hidden + j] += g[k * hidden + j];
            }
        }
    }
    out.insert(format!("{table} (rows)"), dense);
    out
}

fn assert_close(a: &HashMap<String, Vec<f32>>, b: &HashMap<String, Vec<f32>>, rel: f32) {
    let mut names: Vec<&String> = a.keys().collect();
    names.sort();
    assert_eq!(names.len(), b.len(), "the same tensors get gradients");
    for name in names {
        let (x, y) = (&a[name], &b[name]);
        let diff: f32 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f32>().sqrt();
        let norm: f32 = x.iter().map(|p| p * p).sum::<f32>().sqrt();
        if name.ends_with("attention.self.key.bias") {
            // Exactly zero in exact arithmetic (softmax ignores a constant added to every key's
            // score), so both are rounding noise: compare them to the noise's size.
            assert!(diff <= 1e-5, "{name}: L2 difference {diff}");
            continue;
        }
        assert!(norm > 0.0, "{name}: no gradient");
        assert!(diff <= rel * norm, "{name}: relative L2 difference {}", diff / norm);
    }
}

/// With dropout off, the split pass gives the gradients of one pass over the whole batch, for
/// a loss over pairs of rows and for a head's cross-entropy (whose weights live outside the
/// encoder); 1e-5 relative bounds the f32 sums' reordering.
#[test]
fn split_pass_gives_the_whole_batchs_gradients() {
    let (_dir, enc, batch) = setup(0.0);
    let dim = enc.dim();
    let w = Var::from_tensor(&Tensor::randn(0f32, 0.5, (3, dim), &Device::Cpu).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::randn(0f32, 0.5, 3, &Device::Cpu).unwrap()).unwrap();
    let head = [("head.weight", &w), ("head.bias", &b)];
    type Loss<'a> = Box<dyn Fn(&Tensor) -> attune::Result<Tensor> + Sync + 'a>;
    let losses: [(&str, Loss); 2] = [
        ("in-batch cosine", Box::new(|e: &Tensor| in_batch_cosine(e, LABELS))),
        (
            "head cross-entropy",
            Box::new(|e: &Tensor| head_cross_entropy(e, w.as_tensor(), b.as_tensor(), LABELS)),
        ),
    ];
    for (what, loss) in &losses {
        let whole = {
            // Dropout is off: a training forward is the whole batch's exact pass.
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let emb = enc.forward(&batch, &mut ForwardMode::Train(&mut rng)).unwrap();
            let l = loss(&emb).unwrap();
            (
                l.to_scalar::<f32>().unwrap(),
                gradients(&enc, &l.backward().unwrap(), &head),
            )
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let pass = pool
            .install(|| forward_backward(&enc, &batch, &mut rng, loss.as_ref()))
            .unwrap();
        let split = (
            pass.loss.to_scalar::<f32>().unwrap(),
            gradients(&enc, &pass.grads, &head),
        );
        assert!(
            (whole.0 - split.0).abs() <= 1e-5 * whole.0.abs(),
            "{what}: loss {} against {}",
            split.0,
            whole.0
        );
        assert_close(&whole.1, &split.1, 1e-5);
        let head_grads = split.1.keys().filter(|k| k.starts_with("head.")).count();
        assert_eq!(head_grads, if *what == "head cross-entropy" { 2 } else { 0 }, "{what}");
    }
}

/// With dropout on, each half draws its masks from its own RNG seeded from the caller's: the same
/// gradients on one thread as on three, and different masks from a different seed.
#[test]
fn split_pass_repeats_on_any_thread_count() {
    let (_dir, enc, batch) = setup(0.1);
    let run = |threads: usize, seed: u64| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pass = pool
            .install(|| forward_backward(&enc, &batch, &mut rng, &|e| in_batch_cosine(e, LABELS)))
            .unwrap();
        gradients(&enc, &pass.grads, &[])
    };
    let one = run(1, 3);
    let three = run(3, 3);
    assert_close(&one, &three, 1e-6);
    let other = run(3, 4);
    let name = "encoder.layer.0.attention.output.dense.weight";
    assert!(one.contains_key(name), "{:?}", one.keys().collect::<Vec<_>>());
    assert_ne!(one[name], other[name], "another seed, other dropout masks");
}
