//! `attune demo`: the README's main job, on the example dataset that ships with attune:
//! review it, fine-tune the default model, print baseline beside fine-tuned metrics on held-out
//! test rows with the model that was kept and why, and classify a few new texts.

use std::path::PathBuf;

use clap::Args;

use attune::data::review::{review, ModelView, ReviewOptions};
use attune::data::{Dataset, LoadOptions};
use attune::finetune::{finetune, FinetuneOptions};
use attune::map::{map_models, write, MapJob, MapOptions};
use attune::model::FinetunedModel;

use super::finetune::print_outcome;
use super::progress::Reporter;
use super::{open_registry, source_options, CliError};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The base model.
    #[arg(long, env = "ATTUNE_BASE", default_value = attune::DEFAULT_MODEL)]
    base: String,
    /// The example dataset.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo/support-tickets.csv"))]
    data: PathBuf,
    /// Where to write the embedding map (.png, .svg, .html or .json); default: map.png in the
    /// model's folder.
    #[arg(long)]
    map: Option<PathBuf>,
}

const NEW_TEXTS: &[&str] = &[
    "I was billed twice for the same order this month",
    "the parcel says delivered but there's nothing at my door",
    "can't sign in, it keeps saying my code is invalid",
    "the app freezes every time I open the settings page",
];

pub fn run(a: DemoArgs) -> Result<(), CliError> {
    println!("== 1. Review {}\n", a.data.display());
    let ds = Dataset::load(&a.data, &LoadOptions::default())?;
    let r = review(&ds, &ReviewOptions::default(), ModelView::default())?;
    for l in &r.labels {
        println!("  {:<12} {:>4} rows", l.label, l.count);
    }
    if r.problems.is_empty() {
        println!("  no problems found");
    }
    for p in &r.problems {
        println!("  [{:?}] {}", p.severity, p.message);
    }
    println!("\n== 2. Fine-tune {} (progress on stderr)\n", a.base);
    let mut reg = open_registry()?;
    let opts = FinetuneOptions {
        data: a.data.clone(),
        base: a.base.clone(),
        name: Some("demo-support-tickets".into()),
        ..FinetuneOptions::default()
    };
    let mut rep = Reporter::new();
    let outcome = finetune(&opts, &mut reg, &source_options(), &mut |p| rep.report(p));
    rep.finish();
    let outcome = outcome?;
    println!("== 3. Held-out figures, and which model was kept\n");
    print_outcome(&outcome, false)?;
    println!("\n== 4. Classify new texts with {}\n", outcome.model_id);
    let model = FinetunedModel::load(&outcome.path)?;
    for c in model.classify(NEW_TEXTS, None, 32)? {
        println!(
            "  {:<10} {:.3}  {}",
            c.prediction.unwrap_or_default(),
            c.confidence,
            c.input
        );
    }
    println!("\n== 5. Embedding map of the test rows (held out from training and every decision)\n");
    let map_path = a.map.clone().unwrap_or_else(|| outcome.path.join("map.png"));
    let job = MapJob {
        model: outcome.model_id.clone(),
        baseline: None,
        data: None,
        load: LoadOptions::default(),
        max_points: 2000,
        options: MapOptions {
            label_points: 6,
            ..MapOptions::default()
        },
        long_text: Default::default(),
    };
    let map = map_models(&job, &reg, &source_options())?;
    write(&map, &map_path, &job.options)?;
    println!(
        "  {}: silhouette (2D) baseline {:.3}, fine-tuned {:.3}",
        map_path.display(),
        map.baseline.silhouette,
        map.finetuned.silhouette
    );
    println!(
        "\nNext: attune classify --model {} \"your text\"   |   attune map --model {} --output map.html   |   attune models list",
        outcome.model_id, outcome.model_id
    );
    Ok(())
}
