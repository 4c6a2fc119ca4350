//! Embedding throughput of attune: the first N texts of a CSV, batch B, after one warm-up batch.
//! Prints one JSON line (sentences/s, peak RSS). `bench/embed.sh` runs it beside
//! sentence-transformers in the same run; see BENCHMARKS.md.
//!
//! cargo bench --bench embed -- [--data FILE] [--n 2000] [--batch-size 32] [--model M]

mod common;

use std::time::Instant;

use common::{arg, peak_rss_mib};

use attune::{Encoder, EncoderOptions};

// The binary's allocator, so the benchmark measures what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    attune::kernels::init_process();
    let args: Vec<String> = std::env::args().collect();
    let data = arg(&args, "--data", "../shared/data/banking77-train.csv");
    let n: usize = arg(&args, "--n", "2000").parse().expect("--n takes a number");
    let bs: usize = arg(&args, "--batch-size", "32")
        .parse()
        .expect("--batch-size takes a number");
    let model = arg(&args, "--model", attune::DEFAULT_MODEL);
    if !std::path::Path::new(&data).exists() {
        eprintln!("skipped: {data} is absent (the benchmark reads ../shared/data)");
        return;
    }
    let texts = attune::io::read_texts(std::path::Path::new(&data), None).expect("read the data");
    let texts: Vec<&str> = texts.iter().take(n).map(String::as_str).collect();
    let dir = attune::resolve_model(&model, &attune::SourceOptions::from_env())
        .expect("model")
        .dir;
    let enc = Encoder::load(&dir, &EncoderOptions::default()).expect("load");
    enc.embed(&texts[..bs.min(texts.len())], bs).expect("warm-up");
    let start = Instant::now();
    let emb = enc.embed(&texts, bs).expect("embed");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(emb.len(), texts.len());
    println!(
        "{}",
        serde_json::json!({
            "engine": "attune",
            "texts": texts.len(),
            "batch_size": bs,
            "threads": rayon_threads(),
            "seconds": secs,
            "sentences_per_s": texts.len() as f64 / secs,
            "peak_rss_mib": peak_rss_mib(),
        })
    );
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
