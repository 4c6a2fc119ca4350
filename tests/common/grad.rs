//! Gradient checks shared by the encoder tests of every model family.

use attune::{Encoder, ForwardMode};
use candle_core::{Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Finite differences against backpropagation for every variable of `enc` (loaded in f64),
/// through a loss that depends on every embedding dimension: the squares of a seeded random
/// projection plus [`contrastive_loss`].
pub fn check_encoder_gradients(enc: &Encoder, texts: &[&str], seed: u64) {
    let batch = enc.tokenize(texts).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let proj: Vec<f64> = (0..enc.dim() * 3).map(|_| rng.gen::<f64>() * 2.0 - 1.0).collect();
    let proj = Tensor::from_vec(proj, (enc.dim(), 3), enc.device()).unwrap();
    let loss = || -> Tensor {
        let emb = enc.forward(&batch, &mut ForwardMode::Exact).unwrap();
        let p = emb.matmul(&proj).unwrap();
        (p.sqr().unwrap().sum_all().unwrap() + contrastive_loss(&emb)).unwrap()
    };
    check_finite_differences(&enc.named_vars(), &loss, &mut rng);
}

/// A loss that depends on every embedding dimension: squared error of the cosine matrix
/// against "each text is only like itself".
pub fn contrastive_loss(emb: &Tensor) -> Tensor {
    let n = emb.dim(0).unwrap();
    let sim = emb.matmul(&emb.t().unwrap()).unwrap();
    let eye = Tensor::eye(n, emb.dtype(), emb.device()).unwrap();
    (sim - eye).unwrap().sqr().unwrap().mean_all().unwrap()
}

/// Sets one element of a variable.
fn set_elem(var: &Var, flat: &[f64], i: usize, value: f64) {
    let mut v = flat.to_vec();
    v[i] = value;
    let t = Tensor::from_vec(v, var.shape(), var.device()).unwrap();
    var.set(&t).unwrap();
}

/// Compares backpropagation with central finite differences on a few entries of each variable.
pub fn check_finite_differences(vars: &[(String, Var)], loss: &dyn Fn() -> Tensor, rng: &mut ChaCha8Rng) {
    let value = loss();
    let grads = value.backward().unwrap();
    let eps = 1e-6;
    // What rounding alone puts into a central difference: the loss's last bits over 2 eps.
    let floor = (value.to_scalar::<f64>().unwrap().abs() * 1e-9).max(1e-7);
    let mut worst = (0.0f64, String::new());
    for (name, var) in vars {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient"))
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let flat = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        assert!(g.iter().any(|x| *x != 0.0), "{name}: gradient is all zero");
        // The two largest gradient entries and two random ones.
        let mut idx: Vec<usize> = (0..g.len()).collect();
        idx.sort_by(|a, b| g[*b].abs().total_cmp(&g[*a].abs()));
        let mut picks = vec![idx[0], idx[1.min(idx.len() - 1)]];
        picks.push(rng.gen_range(0..g.len()));
        picks.push(rng.gen_range(0..g.len()));
        let (mut num2, mut diff2, mut ana2) = (0.0, 0.0, 0.0);
        for &i in &picks {
            set_elem(var, &flat, i, flat[i] + eps);
            let up = loss().to_scalar::<f64>().unwrap();
            set_elem(var, &flat, i, flat[i] - eps);
            let down = loss().to_scalar::<f64>().unwrap();
            set_elem(var, &flat, i, flat[i]);
            let numeric = (up - down) / (2.0 * eps);
            num2 += numeric * numeric;
            ana2 += g[i] * g[i];
            diff2 += (numeric - g[i]).powi(2);
        }
        let (num, ana, diff) = (num2.sqrt(), ana2.sqrt(), diff2.sqrt());
        if num.max(ana) < floor {
            // Zero in exact arithmetic (the key bias: softmax ignores a shift shared by all
            // keys); both sides are rounding noise, so compare them absolutely.
            assert!(diff < floor, "{name}: finite differences {num:e}, backprop {ana:e}");
            continue;
        }
        let rel = diff / num.max(ana);
        if rel > worst.0 {
            worst = (rel, name.clone());
        }
        assert!(
            rel < 1e-3,
            "{name}: relative error {rel:e} between finite differences and backprop"
        );
    }
    eprintln!("worst relative error {:e} ({})", worst.0, worst.1);
}
