//! Each fused kernel, forward and backward, against the plain candle-primitive version it
//! replaces (`attune::kernels::reference`), within 1e-5 (absolute, or relative to the largest
//! reference value where that exceeds 1). Shapes cover a single row, rows longer and shorter
//! than the 16-lane folds, and enough rows to split across the thread pool.

use attune::kernels::{self, reference};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};

const TOL: f32 = 1e-5;

fn random(shape: &[usize], scale: f32, seed: u64) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0) * scale).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// The largest difference, relative to the reference's largest magnitude where that is above 1.
fn diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max) / scale
}

/// Output and the gradients of `sum(f(inputs) * r)` with respect to each input.
fn run(inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts).unwrap();
    let r = random(y.dims(), 1.0, 99);
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let gs = ts.iter().map(|t| grads.get(t).expect("a gradient").clone()).collect();
    (y, gs)
}

fn check(
    what: &str,
    inputs: &[Tensor],
    fused: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    plain: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
) {
    let (yf, gf) = run(inputs, fused);
    let (yp, gp) = run(inputs, plain);
    let d = diff(&yf, &yp);
    assert!(d <= TOL, "{what}: forward differs by {d}");
    for (i, (a, b)) in gf.iter().zip(&gp).enumerate() {
        let d = diff(a, b);
        assert!(d <= TOL, "{what}: gradient of input {i} differs by {d}");
    }
}

const SHAPES: [&[usize]; 4] = [&[1, 7], &[3, 5, 17], &[2, 40, 384], &[64, 33, 1536]];

#[test]
fn gelu_matches_plain() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let x = random(shape, 6.0, i as u64);
        check(&format!("gelu {shape:?}"), &[x], &|t| kernels::gelu_erf(&t[0]), &|t| {
            reference::gelu_erf(&t[0])
        });
    }
}

#[test]
fn layer_norm_matches_plain() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let n = *shape.last().unwrap();
        let x = (random(shape, 3.0, i as u64) + 0.5).unwrap();
        let w = (random(&[n], 0.5, 10 + i as u64) + 1.0).unwrap();
        let b = random(&[n], 0.2, 20 + i as u64);
        check(
            &format!("layer norm {shape:?}"),
            &[x, w, b],
            &|t| kernels::layer_norm(&t[0], &t[1], &t[2], 1e-12),
            &|t| reference::layer_norm(&t[0], &t[1], &t[2], 1e-12),
        );
    }
}

/// A padding mask: sequence `s` has its last `s % keys` keys masked out (never all of them).
fn mask(batch: usize, keys: usize) -> Tensor {
    let v: Vec<f32> = (0..batch)
        .flat_map(|s| (0..keys).map(move |k| if k > 0 && k + s % keys >= keys { -1e9 } else { 0.0 }))
        .collect();
    Tensor::from_vec(v, (batch, keys), &Device::Cpu).unwrap()
}

#[test]
fn masked_softmax_matches_plain() {
    for (i, shape) in [[1usize, 1, 1, 5], [2, 3, 4, 17], [32, 12, 30, 30]].iter().enumerate() {
        let scores = random(shape, 8.0, i as u64);
        let bias = mask(shape[0], shape[3]);
        let scale = 0.125;
        check(
            &format!("masked softmax {shape:?}"),
            &[scores],
            &|t| kernels::masked_softmax(&t[0], &bias, scale),
            &|t| reference::masked_softmax(&t[0], &bias, scale),
        );
    }
}

#[test]
fn masked_keys_get_exactly_zero() {
    let scores = random(&[2, 2, 3, 6], 4.0, 5);
    let bias = mask(2, 6);
    let p = kernels::masked_softmax(&scores, &bias, 1.0)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let m = bias.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (row, probs) in p.chunks(6).enumerate() {
        let seq = row / 6;
        let sum: f32 = probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-6, "row {row} sums to {sum}");
        for (k, &pk) in probs.iter().enumerate() {
            if m[seq * 6 + k] < 0.0 {
                assert_eq!(pk, 0.0, "row {row}, masked key {k}");
            }
        }
    }
}

#[test]
fn bias_add_matches_plain() {
    for (i, shape) in SHAPES.iter().enumerate() {
        let n = *shape.last().unwrap();
        let y = random(shape, 2.0, i as u64);
        let b = random(&[n], 1.0, 30 + i as u64);
        check(
            &format!("bias add {shape:?}"),
            &[y, b],
            &|t| kernels::bias_add(&t[0], &t[1]),
            &|t| t[0].broadcast_add(&t[1]),
        );
    }
}

#[test]
fn adamw_matches_the_plain_loop() {
    let n = 100_003; // several thread-pool chunks and a ragged end
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut gen = |s: f32| (0..n).map(|_| rng.gen_range(-1.0f32..1.0) * s).collect::<Vec<_>>();
    let (w0, g) = (gen(1.0), gen(0.1));
    let (m0, v0) = (gen(0.01), gen(0.001).iter().map(|v| v.abs()).collect::<Vec<_>>());
    let p = kernels::AdamWStep {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-6,
        step: 2e-5 / 0.1,
        bc2_sqrt: 0.0316,
        decay: 2e-7,
    };
    let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
    kernels::adamw_step(&mut w, &g, &mut m, &mut v, p);
    for i in 0..n {
        let mi = p.beta1 * m0[i] + (1.0 - p.beta1) * g[i];
        let vi = p.beta2 * v0[i] + (1.0 - p.beta2) * g[i] * g[i];
        let wi = w0[i] * (1.0 - p.decay) - p.step * mi / (vi.sqrt() / p.bc2_sqrt + p.eps);
        assert!((w[i] - wi).abs() <= 1e-6, "w[{i}]: {} vs {wi}", w[i]);
        assert!((m[i] - mi).abs() <= 1e-7 && (v[i] - vi).abs() <= 1e-7, "moments at {i}");
    }
}

/// f64 takes the same kernels (the encoder's finite-difference check runs in f64).
#[test]
fn f64_inputs_take_the_kernels_too() {
    let x = random(&[4, 9], 3.0, 1).to_dtype(DType::F64).unwrap();
    let a = kernels::gelu_erf(&x).unwrap().to_dtype(DType::F32).unwrap();
    let b = reference::gelu_erf(&x).unwrap().to_dtype(DType::F32).unwrap();
    assert!(diff(&a, &b) < 1e-7);
}
