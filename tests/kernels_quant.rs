//! The lower-precision matrix multiplies (`kernels::quant`): every path this CPU has gives the
//! plain twin's result (int8 bit for bit; bf16 bit for bit on AVX2, within `vdpbf16ps`'s rounding
//! on AVX-512), and the plain twin computes what its definition says, checked in f64. A file of
//! its own: the instruction-set cap is process-wide.

use attune::kernels::quant::{bf16_paths, int8_paths, Bf16Weight, F32Weight, Int8Weight, Path};
use attune::kernels::{limit_simd, Simd};
use rand::{Rng, SeedableRng};

/// Shapes that leave partial blocks, groups and tiles, and one past a tile of rows. The last
/// has more row tiles than two threads want, so each tile takes all 7 blocks: the VNNI kernel
/// runs 4 blocks and then 3, over 6, 4, 2 and 1 rows (tiles of 32 rows and one of 5).
const SHAPES: [(usize, usize, usize); 5] = [(11, 37, 40), (1, 4, 16), (70, 100, 50), (3, 384, 33), (261, 20, 100)];

/// The instruction-set cap is process-wide and tests run in parallel: each test that sets it
/// holds this lock, so every path runs under the cap it is labelled with.
static CAP: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cap_lock() -> std::sync::MutexGuard<'static, ()> {
    CAP.lock().unwrap_or_else(|e| e.into_inner())
}

fn random(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| scale * (rng.gen::<f32>() * 2.0 - 1.0)).collect()
}

/// Inputs with the awkward rows: all zeros, constant, one outlier.
fn inputs(rows: usize, inp: usize, seed: u64) -> Vec<f32> {
    let mut x = random(rows * inp, 3.0, seed);
    if rows >= 3 {
        x[..inp].fill(0.0);
        x[inp..2 * inp].fill(-1.25);
        x[2 * inp] = 40.0;
    }
    x
}

fn bias(out: usize) -> Vec<f32> {
    (0..out).map(|o| o as f32 * 0.01 - 0.2).collect()
}

/// `x W^T + b` in f64 from the values the kernel multiplies.
fn reference(x: &[f64], w: &[f64], b: &[f32], rows: usize, inp: usize, out: usize) -> Vec<f64> {
    let mut y = vec![0f64; rows * out];
    for r in 0..rows {
        for o in 0..out {
            y[r * out + o] = b[o] as f64 + (0..inp).map(|k| x[r * inp + k] * w[o * inp + k]).sum::<f64>();
        }
    }
    y
}

/// The u8 codes and their dequantised values, as the kernel quantises a row.
fn quantized_row(x: &[f32]) -> Vec<f64> {
    let (lo, hi) = x.iter().fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    let zero = (-lo / scale).round().clamp(0.0, 255.0);
    let (inv, shift) = (1.0 / scale, zero + 0.5);
    x.iter()
        .map(|&v| {
            let q = (v * inv + shift).clamp(0.0, 255.0).floor();
            (q - zero) as f64 * scale as f64
        })
        .collect()
}

#[test]
fn int8_paths_agree_bit_for_bit_and_the_plain_twin_is_its_definition() {
    let _cap = cap_lock();
    let mut seen = Vec::new();
    for (i, &(rows, inp, out)) in SHAPES.iter().enumerate() {
        let w = random(out * inp, 0.2, 10 + i as u64);
        let x = inputs(rows, inp, 20 + i as u64);
        let b = bias(out);
        let q = Int8Weight::quantize(&w, out, inp, Some(&b));
        let plain = q.matmul_on(Path::Plain, &x, rows);
        let xq: Vec<f64> = x.chunks(inp).flat_map(quantized_row).collect();
        let wq: Vec<f64> = q.dequantized().iter().map(|&v| v as f64).collect();
        let want = reference(&xq, &wq, &b, rows, inp, out);
        for (g, w) in plain.iter().zip(&want) {
            assert!((*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()), "plain {g} against {w}");
        }
        for level in [Simd::Baseline, Simd::Avx2, Simd::Avx512] {
            limit_simd(level);
            for p in int8_paths() {
                let got = q.matmul_on(p, &x, rows);
                assert!(
                    got == plain,
                    "int8 {p:?} differs from the plain twin at {rows}x{inp}->{out}"
                );
                seen.push(p);
            }
            assert!(q.matmul(&x, rows) == plain, "int8 default path under {level:?}");
        }
        limit_simd(Simd::Avx512);
    }
    seen.sort();
    seen.dedup();
    eprintln!("int8 paths exercised on this CPU: {seen:?}");
}

#[test]
fn int8_stays_close_to_f32() {
    let _cap = cap_lock();
    let (rows, inp, out) = (64, 384, 96);
    let w = random(out * inp, 0.1, 1);
    let x = random(rows * inp, 2.0, 2);
    let b = bias(out);
    let y = Int8Weight::quantize(&w, out, inp, Some(&b)).matmul(&x, rows);
    let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    let want = reference(&f64s(&x), &f64s(&w), &b, rows, inp, out);
    for (r, (got, want)) in y.chunks(out).zip(want.chunks(out)).enumerate() {
        let dot: f64 = got.iter().zip(want).map(|(a, b)| *a as f64 * b).sum();
        let na: f64 = got.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = want.iter().map(|a| a.powi(2)).sum::<f64>().sqrt();
        assert!(dot / (na * nb) > 0.999, "row {r}: cosine {}", dot / (na * nb));
    }
}

#[test]
fn bf16_paths_agree_with_the_plain_twin_which_is_its_definition() {
    let _cap = cap_lock();
    let round = |v: f32| half::bf16::from_f32(v).to_f32() as f64;
    let mut seen = Vec::new();
    for (i, &(rows, inp, out)) in SHAPES.iter().enumerate() {
        let w = random(out * inp, 0.2, 30 + i as u64);
        let x = inputs(rows, inp, 40 + i as u64);
        let b = bias(out);
        let q = Bf16Weight::quantize(&w, out, inp, Some(&b));
        let plain = q.matmul_on(Path::Plain, &x, rows);
        let xr: Vec<f64> = x.iter().map(|&v| round(v)).collect();
        let wr: Vec<f64> = w.iter().map(|&v| round(v)).collect();
        let want = reference(&xr, &wr, &b, rows, inp, out);
        // f32 sums of exact products: a few ulps of the largest partial sum.
        let tol = |w: f64| 1e-5 * (1.0 + w.abs()) + 1e-6 * inp as f64;
        for (g, w) in plain.iter().zip(&want) {
            assert!((*g as f64 - w).abs() <= tol(*w), "plain {g} against {w}");
        }
        for level in [Simd::Baseline, Simd::Avx2, Simd::Avx512] {
            limit_simd(level);
            for p in bf16_paths() {
                let got = q.matmul_on(p, &x, rows);
                if p == Path::Avx512 {
                    for (g, w) in got.iter().zip(&want) {
                        assert!((*g as f64 - w).abs() <= tol(*w), "bf16 {p:?}: {g} against {w}");
                    }
                } else {
                    assert!(
                        got == plain,
                        "bf16 {p:?} differs from the plain twin at {rows}x{inp}->{out}"
                    );
                }
                seen.push(p);
            }
        }
        limit_simd(Simd::Avx512);
    }
    seen.sort();
    seen.dedup();
    eprintln!("bf16 paths exercised on this CPU: {seen:?}");
}

/// `a` (rows x cols) transposed.
fn transposed(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols * rows).map(|i| a[(i % rows) * cols + i / rows]).collect()
}

/// Training in bf16 (`Bf16Linear`): the forward product and both backward products (`dx = g W`,
/// `dW = g^T x`) are what their definitions give on bf16-rounded operands, computed in f64, by
/// both strategies (the bf16 kernels on every path this CPU has; rounded operands through f32
/// GEMM); and a weight packed from its transpose is the same weight.
#[test]
fn bf16_training_products_are_their_definitions_on_every_path() {
    let _cap = cap_lock();
    use attune::kernels::quant::{Bf16Linear, Bf16Strategy};
    use candle_core::{Device, Tensor, Var};
    let round = |v: f32| half::bf16::from_f32(v).to_f32() as f64;
    for (i, &(rows, inp, out)) in SHAPES.iter().enumerate() {
        let xv = inputs(rows, inp, 50 + i as u64);
        let wv = random(out * inp, 0.2, 60 + i as u64);
        let gv = random(rows * out, 1.0, 70 + i as u64);
        let (xr, wr, gr): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            xv.iter().map(|&v| round(v)).collect(),
            wv.iter().map(|&v| round(v)).collect(),
            gv.iter().map(|&v| round(v)).collect(),
        );
        let zeros = |n| vec![0f32; n];
        let want_y = reference(&xr, &wr, &zeros(out), rows, inp, out);
        // dx = g W: "g B^T" with B = W^T (inp x out); dW = g^T x: "g^T B^T" with B = x^T.
        let want_dx = reference(&gr, &transposed(&wr, out, inp), &zeros(inp), rows, out, inp);
        let want_dw = reference(
            &transposed(&gr, rows, out),
            &transposed(&xr, rows, inp),
            &zeros(inp),
            out,
            rows,
            inp,
        );
        let runs = [
            (Bf16Strategy::Kernels, Simd::Baseline),
            (Bf16Strategy::Kernels, Simd::Avx2),
            (Bf16Strategy::Kernels, Simd::Avx512),
            (Bf16Strategy::Rounded, Simd::Avx512),
        ];
        for (strategy, level) in runs {
            limit_simd(level);
            let x = Var::from_vec(xv.clone(), (rows, inp), &Device::Cpu).unwrap();
            let w = Var::from_vec(wv.clone(), (out, inp), &Device::Cpu).unwrap();
            let g = Tensor::from_vec(gv.clone(), (rows, out), &Device::Cpu).unwrap();
            let y = Bf16Linear::forward_with(strategy, &x, &w).unwrap();
            // d(sum(y * g))/dy = g, so the backward products get g as their incoming gradient.
            let grads = (&y * &g).unwrap().sum_all().unwrap().backward().unwrap();
            let got = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (name, got, want, k) in [
                ("y", got(&y), &want_y, inp),
                ("dx", got(grads.get(&x).unwrap()), &want_dx, out),
                ("dW", got(grads.get(&w).unwrap()), &want_dw, rows),
            ] {
                // f32 sums of exact products (vdpbf16ps: its own rounding): ulps of the largest
                // partial sum, which grows with the summed length k.
                let tol = |w: f64| 1e-5 * (1.0 + w.abs()) + 1e-6 * k as f64 * 3.0;
                for (g, w) in got.iter().zip(want.iter()) {
                    assert!(
                        (*g as f64 - w).abs() <= tol(*w),
                        "{name} at {rows}x{inp}->{out}, {strategy:?} {level:?}: {g} against {w}"
                    );
                }
            }
        }
        limit_simd(Simd::Avx512);
        let direct = Bf16Weight::quantize(&wv, out, inp, None).matmul_on(Path::Plain, &xv, rows);
        let t: Vec<f32> = (0..inp * out).map(|j| wv[(j % out) * inp + j / out]).collect();
        let from_t = Bf16Weight::quantize_transposed(&t, out, inp).matmul_on(Path::Plain, &xv, rows);
        assert!(direct == from_t, "packing from the transpose changes the weight");
    }
}

/// The frozen f32 layout (`W^T`, the bias as the GEMM's starting output) is `x W^T + b` as
/// candle computes it, on every shape, with and without a bias, asked for from the main thread
/// (the GEMM may split it) and from inside a rayon task (it runs on that thread).
#[test]
fn frozen_f32_weights_give_candles_product() {
    use candle_core::{Device, Tensor};
    for (i, &(rows, inp, out)) in SHAPES.iter().chain(&[(0, 8, 16), (5, 768, 3072)]).enumerate() {
        let x = inputs(rows, inp, 10 + i as u64);
        let w = random(out * inp, 0.5, 20 + i as u64);
        let b = bias(out);
        let xt = Tensor::from_vec(x.clone(), (rows, inp), &Device::Cpu).unwrap();
        let wt = Tensor::from_vec(w.clone(), (out, inp), &Device::Cpu).unwrap();
        let product = xt.matmul(&wt.t().unwrap()).unwrap();
        let bt = Tensor::from_vec(b.clone(), out, &Device::Cpu).unwrap();
        for with_bias in [false, true] {
            let want = match with_bias {
                true => product.broadcast_add(&bt).unwrap(),
                false => product.clone(),
            };
            let want = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let f = F32Weight::new(&w, out, inp, with_bias.then_some(b.as_slice()));
            assert_eq!((f.in_features(), f.out_features()), (inp, out));
            let outside = f.matmul(&x, rows);
            let inside = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap()
                .install(|| f.matmul(&x, rows));
            for got in [outside, inside] {
                assert_eq!(got.len(), want.len());
                for (j, (g, e)) in got.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (1.0 + e.abs()) * (inp as f32).sqrt();
                    assert!(
                        (g - e).abs() <= tol,
                        "{rows}x{inp}->{out}, bias {with_bias}: element {j} is {g}, candle {e}"
                    );
                }
            }
        }
    }
}

/// The fused inference products (`LowMatmul::forward_gelu`, `forward_add_norm`) against the
/// unfused passes they replace (the product, then `kernels::gelu_erf`; the product, the residual
/// added, then `kernels::layer_norm`), for every kind of inference copy: bit for bit, as each
/// runs the same arithmetic in the same order on the same product (a frozen encoder must embed
/// exactly as the trained one did, or a saved calibration is not reproduced).
#[test]
fn fused_products_give_the_unfused_passes() {
    use attune::kernels::quant::{LowMatmul, LowWeight};
    use attune::kernels::{gelu_erf, layer_norm};
    use candle_core::{Device, Tensor};
    use std::sync::Arc;
    let dev = Device::Cpu;
    for (i, &(rows, inp, out)) in SHAPES.iter().chain(&[(0, 8, 16), (5, 768, 3072)]).enumerate() {
        let x = inputs(rows, inp, 30 + i as u64);
        let w = random(out * inp, 0.5, 40 + i as u64);
        let b = bias(out);
        let residual = random(rows * out, 2.0, 50 + i as u64);
        let (nw, nb) = (random(out, 1.0, 60 + i as u64), bias(out));
        let xt = Tensor::from_vec(x.clone(), (rows, inp), &dev).unwrap();
        let rt = Tensor::from_vec(residual.clone(), (rows, out), &dev).unwrap();
        let nwt = Tensor::from_vec(nw.clone(), out, &dev).unwrap();
        let nbt = Tensor::from_vec(nb.clone(), out, &dev).unwrap();
        let kinds = [
            ("f32", LowWeight::F32(F32Weight::new(&w, out, inp, Some(&b)))),
            ("int8", LowWeight::Int8(Int8Weight::quantize(&w, out, inp, Some(&b)))),
            ("bf16", LowWeight::Bf16(Bf16Weight::quantize(&w, out, inp, Some(&b)))),
        ];
        for (kind, weight) in kinds {
            let low = LowMatmul(Arc::new(weight));
            let product = low.forward(&xt).unwrap();
            let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let want = flat(gelu_erf(&product).unwrap());
            let got = flat(low.forward_gelu(&xt).unwrap());
            assert_eq!(got, want, "{kind} {rows}x{inp}->{out}: gelu");
            let want = flat(layer_norm(&(&product + &rt).unwrap(), &nwt, &nbt, 1e-5).unwrap());
            let got = flat(low.forward_add_norm(&xt, &rt, nw.clone(), nb.clone(), 1e-5).unwrap());
            assert_eq!(got, want, "{kind} {rows}x{inp}->{out}: add and norm");
        }
    }
}

/// A residual or norm of the wrong size is an error, not a read past a buffer.
#[test]
fn fused_products_refuse_a_residual_or_norm_of_the_wrong_size() {
    use attune::kernels::quant::{LowMatmul, LowWeight};
    use candle_core::{Device, Tensor};
    use std::sync::Arc;
    let dev = Device::Cpu;
    let (rows, inp, out) = (4, 8, 6);
    let low = LowMatmul(Arc::new(LowWeight::F32(F32Weight::new(
        &random(out * inp, 0.5, 1),
        out,
        inp,
        None,
    ))));
    let x = Tensor::from_vec(inputs(rows, inp, 2), (rows, inp), &dev).unwrap();
    let ok = Tensor::zeros((rows, out), candle_core::DType::F32, &dev).unwrap();
    let short = Tensor::zeros((rows - 1, out), candle_core::DType::F32, &dev).unwrap();
    let e = low
        .forward_add_norm(&x, &short, vec![1.0; out], vec![0.0; out], 1e-5)
        .unwrap_err();
    assert!(
        e.to_string().contains("residual of shape [3, 6] for 4 rows of 6"),
        "{e}"
    );
    let e = low
        .forward_add_norm(&x, &ok, vec![1.0; out - 1], vec![0.0; out], 1e-5)
        .unwrap_err();
    assert!(e.to_string().contains("a norm of 5 and 6 for 6 outputs"), "{e}");
    assert!(low
        .forward_add_norm(&x, &ok, vec![1.0; out], vec![0.0; out], 1e-5)
        .is_ok());
}
