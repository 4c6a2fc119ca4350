//! A training step of attune: forward, backward and AdamW on 32 sentences (texts of a CSV, the
//! in-batch cosine loss over labels), after warm-up steps. Prints one JSON line (seconds per step,
//! sentences/s, peak RSS). `bench/train_step.sh` runs it beside PyTorch in the same run.
//!
//! cargo bench --bench train_step -- [--data FILE] [--steps 10] [--batch-size 32] [--model M]
//!   [--dtype f32|bf16]

mod common;

use std::time::Instant;

use common::{arg, peak_rss_mib};

use attune::data::{Dataset, LoadOptions};
use attune::train::loss::in_batch_cosine;
use attune::train::optim::{AdamW, AdamWConfig};
use attune::train::pass::forward_backward;
use attune::{Encoder, EncoderOptions};
use rand::SeedableRng;

// The binary's allocator, so the benchmark measures what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    attune::kernels::init_process();
    let args: Vec<String> = std::env::args().collect();
    let data = arg(&args, "--data", "../shared/data/banking77-train.csv");
    let steps: usize = arg(&args, "--steps", "10").parse().unwrap_or(10);
    let bs: usize = arg(&args, "--batch-size", "32").parse().unwrap_or(32);
    if !std::path::Path::new(&data).exists() {
        eprintln!("skipped: {data} is absent (the benchmark reads ../shared/data)");
        return;
    }
    let ds = Dataset::load(std::path::Path::new(&data), &LoadOptions::default()).expect("read the data");
    let mut labels: Vec<&str> = ds.examples.iter().map(|e| e.label.as_str()).collect();
    labels.sort();
    labels.dedup();
    let model = arg(&args, "--model", attune::DEFAULT_MODEL);
    let dir = attune::resolve_model(&model, &attune::SourceOptions::from_env())
        .expect("model")
        .dir;
    let mut enc = Encoder::load(&dir, &EncoderOptions::default()).expect("load");
    let dtype: attune::Precision = arg(&args, "--dtype", "f32").parse().expect("--dtype");
    enc.set_training_precision(dtype).expect("training precision");
    // As the trainer runs it: the word-embedding table updated by rows, unless
    // --dense-word-grads asks for candle's dense gradient (to measure the difference).
    let dense = args.iter().any(|a| a == "--dense-word-grads");
    let mut opt = AdamW::new(enc.named_vars(), AdamWConfig::default()).expect("optimizer");
    if !dense {
        opt = opt.with_row_updates(&enc.word_table()).expect("row updates");
        enc.capture_word_rows(true);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let warmup = 2;
    let mut timed = 0.0;
    for step in 0..warmup + steps {
        let rows = &ds.examples[(step * bs) % (ds.examples.len() - bs)..][..bs];
        let texts: Vec<&str> = rows.iter().map(|e| e.text.as_str()).collect();
        let ids: Vec<usize> = rows
            .iter()
            .map(|e| labels.binary_search(&e.label.as_str()).unwrap_or(0))
            .collect();
        let t0 = Instant::now();
        let batch = enc.tokenize(&texts).expect("tokenize");
        // As the trainer runs it: the batch's two halves on two threads.
        let pass = forward_backward(&enc, &batch, &mut rng, &|emb| in_batch_cosine(emb, &ids)).expect("pass");
        opt.step_rows(&pass.grads, 2e-5, &enc.take_word_rows()).expect("step");
        if step >= warmup {
            timed += t0.elapsed().as_secs_f64();
        }
    }
    let per_step = timed / steps as f64;
    println!(
        "{}",
        serde_json::json!({
            "engine": format!(
                "attune{}{}",
                if dense { " (dense word-table gradient)" } else { "" },
                if dtype == attune::Precision::F32 { String::new() } else { format!(" ({dtype})") }
            ),
            "dtype": dtype.as_str(),
            "model": model,
            "batch_size": bs,
            "steps": steps,
            "seconds_per_step": per_step,
            "sentences_per_s": bs as f64 / per_step,
            "peak_rss_mib": peak_rss_mib(),
        })
    );
}
