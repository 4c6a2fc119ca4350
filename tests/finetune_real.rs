//! Fine-tuning the real all-MiniLM-L6-v2 for a few steps on the shipped demo dataset: the
//! embeddings must separate the labels better than the frozen base model's do. Training starts
//! from the head fitted on the base model (C = 10 since 2026-12-05), whose lower starting loss
//! moves the encoder less per step: 6 steps raised the silhouette by 0.043, so the run takes 12.

mod common;

use attune::finetune::{finetune, FinetuneOptions};
use attune::registry::Registry;
use attune::train::TrainSettings;

#[test]
fn a_few_steps_on_the_demo_data_beat_the_base_model() {
    let base = common::real_model();
    let home = tempfile::tempdir().unwrap();
    let mut reg = Registry::open(home.path()).unwrap();
    let opts = FinetuneOptions {
        data: concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo/support-tickets.csv").into(),
        base: base.to_string_lossy().into_owned(),
        train: TrainSettings {
            epochs: Some(2),
            max_steps: Some(12),
            ..TrainSettings::default()
        },
        ..FinetuneOptions::default()
    };
    let out = finetune(&opts, &mut reg, &attune::SourceOptions::from_env(), &mut |_| {}).unwrap();
    let (b, f) = (&out.metrics.baseline, &out.metrics.finetuned);
    eprintln!(
        "demo data, 12 steps: silhouette {:.3} -> {:.3}, accuracy {:.3} -> {:.3}",
        b.silhouette, f.silhouette, b.accuracy, f.accuracy
    );
    assert_eq!(out.training.steps, 12);
    assert!(
        f.silhouette > b.silhouette + 0.05,
        "silhouette {} -> {}",
        b.silhouette,
        f.silhouette
    );
    assert!(f.accuracy >= 0.8, "accuracy {}", f.accuracy);
    assert_eq!(reg.list(false).unwrap().len(), 1);
}
