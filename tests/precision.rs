//! The accuracy guard of lower precision on the real all-MiniLM-L6-v2: embeddings in int8 and
//! bf16 against f32 (cosine), and the labels a head fitted on f32 embeddings gives to held-out
//! rows (agreement, accuracy). On a tiny random model: switching precision back to f32 restores
//! f32 exactly, and training passes never use the lower-precision weights.

mod common;

use attune::head::{HeadConfig, LogisticHead};
use attune::{Encoder, EncoderOptions, ForwardMode, Precision};

const DATA: &str = "../shared/data/atis8-train.csv";

fn argmax(p: &[f32]) -> usize {
    (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)
}

#[test]
fn lower_precision_keeps_embeddings_and_held_out_labels() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA);
    if !path.exists() {
        eprintln!("skipped: {DATA} is absent (this test reads ../shared/data)");
        return;
    }
    let ds = attune::data::Dataset::load(&path, &Default::default()).unwrap();
    let labels: Vec<String> = ds.label_counts().into_keys().collect();
    let texts: Vec<&str> = ds.examples.iter().map(|e| e.text.as_str()).collect();
    let truth: Vec<usize> = ds
        .examples
        .iter()
        .map(|e| labels.iter().position(|l| *l == e.label).unwrap())
        .collect();
    // Every third row held out; the head sees the others, in f32.
    let held: Vec<usize> = (0..texts.len()).filter(|i| i % 3 == 0).collect();
    let fit: Vec<usize> = (0..texts.len()).filter(|i| i % 3 != 0).collect();
    let model = common::real_model();
    let f32_enc = Encoder::load(&model, &EncoderOptions::default()).unwrap();
    let full = f32_enc.embed(&texts, 32).unwrap();
    let pick = |v: &[Vec<f32>], idx: &[usize]| idx.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
    let y: Vec<usize> = fit.iter().map(|&i| truth[i]).collect();
    let head = LogisticHead::fit(&pick(&full, &fit), &y, &labels, &HeadConfig::default()).unwrap();
    let answers = |emb: &[Vec<f32>]| -> Vec<usize> {
        head.predict_proba(&pick(emb, &held))
            .unwrap()
            .iter()
            .map(|p| argmax(p))
            .collect()
    };
    let accuracy =
        |a: &[usize]| a.iter().zip(&held).filter(|(p, &i)| **p == truth[i]).count() as f64 / held.len() as f64;
    let base = answers(&full);
    for (dtype, min_mean_cos) in [(Precision::Int8, 0.995), (Precision::Bf16, 0.999)] {
        let enc = Encoder::load(&model, &EncoderOptions::default().with_precision(dtype)).unwrap();
        assert_eq!(enc.precision(), dtype);
        let low = enc.embed(&texts, 32).unwrap();
        let cos: Vec<f32> = full
            .iter()
            .zip(&low)
            .map(|(a, b)| attune::encoder::cosine(a, b))
            .collect();
        let mean = cos.iter().sum::<f32>() / cos.len() as f32;
        let min = cos.iter().copied().fold(1.0, f32::min);
        let got = answers(&low);
        let agree = got.iter().zip(&base).filter(|(a, b)| a == b).count() as f64 / held.len() as f64;
        eprintln!(
            "{dtype}: mean cosine {mean:.6}, least {min:.6}; held-out agreement {agree:.4}, accuracy {:.4} (f32 {:.4})",
            accuracy(&got),
            accuracy(&base)
        );
        assert!(
            mean >= min_mean_cos && min > 0.98,
            "{dtype}: mean cosine {mean}, least {min}"
        );
        assert!(agree >= 0.99, "{dtype}: {agree} of held-out answers as in f32");
        assert!(
            (accuracy(&got) - accuracy(&base)).abs() <= 0.005,
            "{dtype}: accuracy moved by more than half a point"
        );
    }
}

#[test]
fn f32_comes_back_exactly_and_training_passes_stay_f32() {
    let dir = common::tiny_model(&Default::default());
    let mut enc = Encoder::load(dir.path(), &EncoderOptions::default()).unwrap();
    let texts = ["the cat sat", "a much longer sentence about flights to denver", "x"];
    let before = enc.embed(&texts, 2).unwrap();
    let batch = enc.tokenize(&texts).unwrap();
    let exact = enc
        .forward(&batch, &mut ForwardMode::Exact)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for dtype in [Precision::Int8, Precision::Bf16] {
        enc.set_precision(dtype).unwrap();
        let low = enc.embed(&texts, 2).unwrap();
        assert_ne!(low, before, "{dtype} changes the inference pass");
        let still = enc
            .forward(&batch, &mut ForwardMode::Exact)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(still, exact, "{dtype}: a differentiable pass must use the f32 weights");
        enc.set_precision(Precision::F32).unwrap();
        assert_eq!(enc.embed(&texts, 2).unwrap(), before);
    }
}
