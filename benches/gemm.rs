//! One linear layer's matrix multiply in f32 (candle), bf16 and int8 (attune's kernels), at the
//! shapes of all-MiniLM-L6-v2 (tokens x 384 -> 1536 and 1536 -> 384), on every path this CPU
//! has. Prints GFLOP/s per line, to see what each kernel is worth apart from the encoder.
//!
//! cargo bench --bench gemm -- [--rows 640] [--reps 20]

mod common;

use std::time::Instant;

use attune::kernels::quant::{bf16_paths, int8_paths, Bf16Weight, Int8Weight, Path};
use candle_core::{Device, Tensor};
use common::{arg, peak_rss_mib};

fn main() {
    attune::kernels::init_process();
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = arg(&args, "--rows", "640").parse().expect("--rows takes a number");
    let reps: usize = arg(&args, "--reps", "20").parse().expect("--reps takes a number");
    for (inp, out) in [(384, 1536), (1536, 384), (384, 384)] {
        let w: Vec<f32> = (0..out * inp)
            .map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 5000.0)
            .collect();
        let x: Vec<f32> = (0..rows * inp)
            .map(|i| ((i * 104729 % 997) as f32 - 498.0) / 300.0)
            .collect();
        let flop = 2.0 * (rows * inp * out) as f64 * reps as f64;
        let xt = Tensor::from_vec(x.clone(), (rows, inp), &Device::Cpu).expect("x");
        let wt = Tensor::from_vec(w.clone(), (out, inp), &Device::Cpu).expect("w");
        let time = |f: &dyn Fn()| {
            f();
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            flop / t.elapsed().as_secs_f64() / 1e9
        };
        let f32_rate = time(&|| {
            xt.matmul(&wt.t().expect("t")).expect("matmul");
        });
        println!("{rows}x{inp} -> {out}: f32 (candle gemm) {f32_rate:.1} GFLOP/s");
        let q = Int8Weight::quantize(&w, out, inp, None);
        for p in int8_paths() {
            let r = time(&|| {
                q.matmul_on(p, &x, rows);
            });
            println!(
                "{rows}x{inp} -> {out}: int8 {p:?} {r:.1} GFLOP/s ({:.2}x f32)",
                r / f32_rate
            );
        }
        let b = Bf16Weight::quantize(&w, out, inp, None);
        for p in bf16_paths() {
            if p == Path::Plain {
                continue;
            }
            let r = time(&|| {
                b.matmul_on(p, &x, rows);
            });
            println!(
                "{rows}x{inp} -> {out}: bf16 {p:?} {r:.1} GFLOP/s ({:.2}x f32)",
                r / f32_rate
            );
        }
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib());
}
