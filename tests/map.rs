//! `attune map` on a model fine-tuned from a tiny random base: every format written and
//! parseable, points in input order, sampling that keeps every label, and bad input.

mod common;

use std::path::Path;

use attune::data::LoadOptions;
use attune::finetune::{finetune, FinetuneOptions};
use attune::map::{map_models, write, MapJob, MapOptions};
use attune::registry::Registry;
use attune::testing::TinySpec;
use attune::train::TrainSettings;

fn dataset(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("text,label\n");
    for i in 0..12 {
        csv.push_str(&format!(
            "cheap flight fare {i},travel\nrefund card payment {i},money\nreset my password {i},login\n"
        ));
    }
    let p = dir.join("d.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

struct Fixture {
    _base: tempfile::TempDir,
    home: tempfile::TempDir,
    reg: Registry,
    id: String,
    data: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let base = common::tiny_model(&TinySpec::default());
    let home = tempfile::tempdir().unwrap();
    let mut reg = Registry::open(&home.path().join("reg")).unwrap();
    let data = dataset(home.path());
    let opts = FinetuneOptions {
        data: data.clone(),
        base: base.path().to_string_lossy().into_owned(),
        train: TrainSettings {
            epochs: Some(2),
            batch_size: Some(8),
            ..TrainSettings::default()
        },
        ..FinetuneOptions::default()
    };
    let out = finetune(&opts, &mut reg, &attune::SourceOptions::from_env(), &mut |_| {}).unwrap();
    Fixture {
        _base: base,
        home,
        reg,
        id: out.model_id,
        data,
    }
}

fn job(f: &Fixture, data: Option<&Path>, max_points: usize) -> MapJob {
    MapJob {
        model: f.id.clone(),
        baseline: None,
        data: data.map(Path::to_path_buf),
        load: LoadOptions::default(),
        max_points,
        options: MapOptions {
            label_points: 3,
            ..MapOptions::default()
        },
        long_text: Default::default(),
    }
}

#[test]
fn every_format_is_written_and_parseable() {
    let f = fixture();
    let j = job(&f, Some(&f.data), 2000);
    let map = map_models(&j, &f.reg, &attune::SourceOptions::from_env()).unwrap();
    assert_eq!(map.drawn_rows, 36);
    let out = f.home.path();

    write(&map, &out.join("m.json"), &j.options).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("m.json")).unwrap()).unwrap();
    let base = v["baseline"].as_array().unwrap();
    assert_eq!(base.len(), 36);
    assert_eq!(base[0]["text"], "cheap flight fare 0", "input order");
    assert_eq!(base[1]["label"], "money");
    for k in ["x", "y", "label", "text"] {
        assert!(!v["finetuned"][5][k].is_null(), "{k}");
    }
    assert!(v["silhouette"]["baseline"].is_number() && v["silhouette"]["finetuned"].is_number());

    write(&map, &out.join("m.png"), &j.options).unwrap();
    let png = std::fs::read(out.join("m.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1600);

    write(&map, &out.join("m.svg"), &j.options).unwrap();
    let svg = std::fs::read_to_string(out.join("m.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    for label in ["travel", "money", "login", "silhouette"] {
        assert!(svg.contains(label), "{label} missing from the SVG");
    }

    write(&map, &out.join("m.html"), &j.options).unwrap();
    let html = std::fs::read_to_string(out.join("m.html")).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched at view time"
    );
    let start = html.find("application/json\">").unwrap() + "application/json\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(data["finetuned"].as_array().unwrap().len(), 36);
}

#[test]
fn by_default_the_models_validation_rows_are_drawn() {
    let f = fixture();
    let map = map_models(&job(&f, None, 2000), &f.reg, &attune::SourceOptions::from_env()).unwrap();
    // 20 % of 12 rows per label, rounded: 2 each.
    assert_eq!(map.drawn_rows, 6);
}

#[test]
fn sampling_keeps_every_label() {
    let f = fixture();
    let map = map_models(&job(&f, Some(&f.data), 4), &f.reg, &attune::SourceOptions::from_env()).unwrap();
    assert_eq!((map.drawn_rows, map.total_rows), (4, 36));
    let mut labels: Vec<&str> = map.finetuned.points.iter().map(|p| p.label.as_str()).collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels, ["login", "money", "travel"]);
}

#[test]
fn bad_input_is_a_clear_error() {
    let f = fixture();
    let src = attune::SourceOptions::from_env();
    let h = f.home.path();
    let no_labels = h.join("texts.csv");
    std::fs::write(&no_labels, "text\nhello\nworld\n").unwrap();
    let e = map_models(&job(&f, Some(&no_labels), 100), &f.reg, &src)
        .unwrap_err()
        .to_string();
    assert!(e.contains("texts.csv") && e.contains("no label column"), "{e}");

    let one = h.join("one.csv");
    std::fs::write(&one, "text,label\nhello,x\n").unwrap();
    let e = map_models(&job(&f, Some(&one), 100), &f.reg, &src)
        .unwrap_err()
        .to_string();
    assert!(e.contains("one.csv") && e.contains("at least 2"), "{e}");

    let map = map_models(&job(&f, Some(&f.data), 100), &f.reg, &src).unwrap();
    let e = write(&map, &h.join("no/such/dir/m.png"), &MapOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no/such/dir"), "{e}");
    let e = write(&map, &h.join("m.gif"), &MapOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains(".png, .svg, .html or .json"), "{e}");
}

#[test]
fn tsne_is_deterministic_and_needs_enough_points() {
    let f = fixture();
    let src = attune::SourceOptions::from_env();
    let mut j = job(&f, Some(&f.data), 2000);
    j.options.method = attune::map::Method::Tsne;
    let a = map_models(&j, &f.reg, &src).unwrap();
    let b = map_models(&j, &f.reg, &src).unwrap();
    let xy = |m: &attune::map::EmbeddingMap| m.finetuned.points.iter().map(|p| (p.x, p.y)).collect::<Vec<_>>();
    assert_eq!(xy(&a), xy(&b));
    assert!(a.finetuned.points.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
    // The validation rows (6) are too few for t-SNE: a clear error, not a panic.
    j.data = None;
    let e = map_models(&j, &f.reg, &src).unwrap_err().to_string();
    assert!(e.contains("at least 7 points") && e.contains("PCA"), "{e}");
}
