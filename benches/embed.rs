//! Embedding throughput of attune: the first N texts of a CSV, batch B, after one warm-up batch.
//! Prints one JSON line (sentences/s, peak RSS). `bench/embed.sh` runs it beside
//! sentence-transformers in the same run; see BENCHMARKS.md.
//!
//! cargo bench --bench embed -- [--data FILE] [--n 2000] [--batch-size 32] [--model M]
//!   [--dtypes f32,bf16,int8] [--batch-tokens T] [--requests K]
//!
//! With several dtypes, one line each, in one process; every line after f32 also gives the mean
//! and least cosine of its embeddings to f32's. `--requests K` embeds the texts as consecutive
//! calls of K texts each, in file order, as one client's requests of K texts are embedded when
//! none arrive beside them (each call sorts and batches its own texts, so its batches mix
//! lengths); 0, the default, is one call.

mod common;

use std::time::Instant;

use common::{arg, peak_rss_mib};

use attune::{Encoder, EncoderOptions, Precision};

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
    let dtypes: Vec<Precision> = arg(&args, "--dtypes", "f32")
        .split(',')
        .map(|d| d.parse().expect("--dtypes takes f32, bf16 or int8, comma-separated"))
        .collect();
    let tokens: usize = arg(
        &args,
        "--batch-tokens",
        &attune::encoder::DEFAULT_BATCH_TOKENS.to_string(),
    )
    .parse()
    .expect("--batch-tokens takes a number");
    let requests: usize = arg(&args, "--requests", "0")
        .parse()
        .expect("--requests takes a number");
    let calls: Vec<&[&str]> = match requests {
        0 => vec![&texts[..]],
        k => texts.chunks(k).collect(),
    };
    let mut reference: Option<Vec<Vec<f32>>> = None;
    for dtype in dtypes {
        let opts = EncoderOptions::default().with_precision(dtype).frozen();
        let mut enc = Encoder::load(&dir, &opts).expect("load");
        enc.set_batch_tokens(tokens);
        enc.embed(&texts[..bs.min(texts.len())], bs).expect("warm-up");
        let start = Instant::now();
        let mut emb = Vec::with_capacity(texts.len());
        for call in &calls {
            emb.extend(enc.embed(call, bs).expect("embed"));
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(emb.len(), texts.len());
        let cos: Option<Vec<f32>> = reference
            .as_ref()
            .map(|r| r.iter().zip(&emb).map(|(a, b)| attune::encoder::cosine(a, b)).collect());
        if dtype == Precision::F32 {
            reference = Some(emb);
        }
        println!(
            "{}",
            serde_json::json!({
                "engine": "attune",
                "dtype": dtype,
                "texts": texts.len(),
                "batch_size": bs,
                "batch_tokens": tokens,
                "requests": requests,
                "threads": rayon_threads(),
                "seconds": secs,
                "sentences_per_s": texts.len() as f64 / secs,
                "peak_rss_mib": peak_rss_mib(),
                "mean_cosine_to_f32": cos.as_ref().map(|c| c.iter().sum::<f32>() / c.len() as f32),
                "min_cosine_to_f32": cos.as_ref().map(|c| c.iter().copied().fold(1.0, f32::min)),
            })
        );
    }
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
