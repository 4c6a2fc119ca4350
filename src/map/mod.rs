//! Embedding maps: the same texts embedded by two models (baseline and fine-tuned), each
//! compressed to two dimensions by its own projection, one colour per label, with each panel's
//! silhouette. Written as PNG or SVG (two panels side by side), a self-contained HTML page with a
//! tooltip per point, or JSON.

mod html;
pub mod pca;
mod plot;
pub mod sample;
mod stored;
pub mod tsne;

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::eval::{silhouette, silhouette_euclidean};

pub use sample::stratified_sample;
pub use stored::stored_map;

/// How embeddings become points in the plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Principal components: deterministic, keeps global distances.
    Pca,
    /// t-SNE (Barnes-Hut), started from PCA: keeps neighbourhoods, deterministic.
    Tsne,
}

/// One point of a panel.
#[derive(Debug, Clone, Serialize)]
pub struct MapPoint {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub text: String,
}

/// One panel: a model's embeddings in the plane.
#[derive(Debug, Clone, Serialize)]
pub struct Panel {
    /// The model's name, shown as the title.
    pub model: String,
    pub points: Vec<MapPoint>,
    /// Silhouette of the 2D points by label (Euclidean), what the picture shows.
    pub silhouette: f64,
    /// Silhouette of the full embeddings by label (cosine).
    pub silhouette_full: f64,
    /// Share of the variance the two axes explain (PCA).
    pub explained_variance: Vec<f64>,
}

/// Both panels and what was done to get them.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingMap {
    pub method: Method,
    pub baseline: Panel,
    pub finetuned: Panel,
    /// Labels in legend order.
    pub labels: Vec<String>,
    /// Rows in the input, and rows drawn (fewer when sampled).
    pub total_rows: usize,
    pub drawn_rows: usize,
}

/// Options of a map.
#[derive(Debug, Clone)]
pub struct MapOptions {
    pub method: Method,
    /// Text labels on the first N points.
    pub label_points: usize,
    pub seed: u64,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            method: Method::Pca,
            label_points: 0,
            seed: 42,
        }
    }
}

fn panel(
    model: &str,
    emb: &[Vec<f32>],
    texts: &[&str],
    labels: &[String],
    ids: &[usize],
    method: Method,
) -> Result<Panel> {
    let (xy, explained) = match method {
        Method::Pca => {
            let p = pca::Pca::fit(emb, 2)?;
            let xy: Vec<[f64; 2]> = p
                .transform(emb)
                .into_iter()
                .map(|v| [v[0], *v.get(1).unwrap_or(&0.0)])
                .collect();
            (xy, p.explained_ratio)
        }
        Method::Tsne => (tsne::project(emb)?, Vec::new()),
    };
    Ok(Panel {
        model: model.to_string(),
        silhouette: silhouette_euclidean(&xy, ids),
        silhouette_full: silhouette(emb, ids)?,
        explained_variance: explained,
        points: xy
            .iter()
            .zip(texts.iter().zip(labels))
            .map(|(p, (t, l))| MapPoint {
                x: p[0],
                y: p[1],
                label: l.clone(),
                text: t.to_string(),
            })
            .collect(),
    })
}

/// Builds the map of `texts` (with their `labels`) from the two models' embeddings.
pub fn build(
    names: (&str, &str),
    texts: &[&str],
    labels: &[String],
    embeddings: (&[Vec<f32>], &[Vec<f32>]),
    total_rows: usize,
    opts: &MapOptions,
) -> Result<EmbeddingMap> {
    if texts.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "a map needs at least 2 labelled texts, got {}",
            texts.len()
        )));
    }
    let mut legend: Vec<String> = labels.to_vec();
    legend.sort();
    legend.dedup();
    let ids: Vec<usize> = labels.iter().map(|l| legend.binary_search(l).unwrap_or(0)).collect();
    Ok(EmbeddingMap {
        method: opts.method,
        baseline: panel(names.0, embeddings.0, texts, labels, &ids, opts.method)?,
        finetuned: panel(names.1, embeddings.1, texts, labels, &ids, opts.method)?,
        labels: legend,
        total_rows,
        drawn_rows: texts.len(),
    })
}

/// The output formats, chosen by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
    Html,
    Json,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            Some("html") | Some("htm") => Ok(Format::Html),
            Some("json") => Ok(Format::Json),
            _ => Err(Error::InvalidArgument(format!(
                "{}: the output's extension picks the format: .png, .svg, .html or .json",
                path.display()
            ))),
        }
    }
}

/// Writes `map` to `path` in the format its extension names, atomically.
pub fn write(map: &EmbeddingMap, path: &Path, opts: &MapOptions) -> Result<()> {
    let format = Format::from_path(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "the output folder does not exist"),
            ));
        }
    }
    let bytes = match format {
        Format::Json => serde_json::to_vec_pretty(&json(map)).map_err(|e| Error::Internal(e.to_string()))?,
        Format::Html => html::render(map)?.into_bytes(),
        Format::Svg => plot::svg(map, opts)?.into_bytes(),
        Format::Png => plot::png(map, opts)?,
    };
    crate::util::write_atomic(path, |w| w.write_all(&bytes))
}

/// The JSON form: `{"baseline": [{"x","y","label","text"}...], "finetuned": [...],
/// "silhouette": {"baseline", "finetuned"}}` plus context.
pub fn json(map: &EmbeddingMap) -> serde_json::Value {
    serde_json::json!({
        "baseline": map.baseline.points,
        "finetuned": map.finetuned.points,
        "silhouette": {"baseline": map.baseline.silhouette, "finetuned": map.finetuned.silhouette},
        "silhouette_full": {"baseline": map.baseline.silhouette_full, "finetuned": map.finetuned.silhouette_full},
        "models": {"baseline": map.baseline.model, "finetuned": map.finetuned.model},
        "method": map.method,
        "labels": map.labels,
        "colors": hex_colors(map.labels.len()),
        "total_rows": map.total_rows,
        "drawn_rows": map.drawn_rows,
    })
}

/// [`palette`]'s first `n` colours as `#rrggbb`, for the HTML map and the dashboard.
pub fn hex_colors(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let (r, g, b) = palette(i);
            format!("#{r:02x}{g:02x}{b:02x}")
        })
        .collect()
}

/// A colour per label: a qualitative palette (Tableau 10), then evenly spaced hues.
pub fn palette(i: usize) -> (u8, u8, u8) {
    const P: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    if i < P.len() {
        return P[i];
    }
    let h = (i as f64 * 0.618_033_988_75).fract() * 6.0;
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    let f = |v: f64| (40.0 + v * 170.0) as u8;
    (f(r), f(g), f(b))
}

/// A map of a labelled file under a fine-tuned model and its baseline.
#[derive(Debug, Clone)]
pub struct MapJob {
    /// The fine-tuned model (registry ID, nickname or folder), or any encoder with `baseline`.
    pub model: String,
    /// The baseline encoder; by default the fine-tuned model's base model.
    pub baseline: Option<String>,
    /// The labelled file; by default the fine-tuned model's validation rows (held out from
    /// its training).
    pub data: Option<std::path::PathBuf>,
    pub load: crate::data::LoadOptions,
    /// Past this many rows, a stratified sample is drawn.
    pub max_points: usize,
    pub options: MapOptions,
    /// How texts longer than the models' window are embedded; `None` follows the fine-tuned
    /// model's run (truncation for other models).
    pub long_text: Option<crate::encoder::LongText>,
}

/// Embeds the job's file with both models and builds the map.
pub fn map_models(
    job: &MapJob,
    registry: &crate::registry::Registry,
    sources: &crate::source::SourceOptions,
) -> Result<EmbeddingMap> {
    use crate::encoder::{Encoder, EncoderOptions};
    use crate::model::{locate, Located};
    let located = locate(&job.model, registry, sources)?;
    let (model_name, base_spec) = match &located {
        Located::Finetuned { dir, id } => {
            let manifest = crate::finetune::ManifestNames::read(dir)?;
            let base = manifest.base_model;
            // The nickname, else the ID.
            let name = manifest
                .name
                .or_else(|| id.clone())
                .unwrap_or_else(|| job.model.clone());
            (name, job.baseline.clone().or(base))
        }
        Located::Encoder(_) => (job.model.clone(), job.baseline.clone()),
    };
    let base_spec = base_spec.ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{} has no recorded base model: name one with --baseline",
            job.model
        ))
    })?;
    let data = match (&job.data, &located) {
        (Some(d), _) => d.clone(),
        // Models from before the three-way split kept their held-out rows as validation.csv.
        (None, Located::Finetuned { dir, .. }) => Some(crate::finetune::held_out_file(dir))
            .filter(|p| p.exists())
            .unwrap_or_else(|| dir.join("validation.csv")),
        (None, Located::Encoder(_)) => {
            return Err(Error::InvalidArgument(
                "name the labelled file to draw with --data".into(),
            ))
        }
    };
    let ds = crate::data::Dataset::load(&data, &job.load)?;
    let rows: Vec<&crate::data::Example> = ds.examples.iter().filter(|e| !e.text.is_empty()).collect();
    if rows.len() < 2 {
        return Err(Error::Dataset {
            path: data.clone(),
            reason: format!("a map needs at least 2 labelled texts; the file has {}", rows.len()),
        });
    }
    // A multi-label point is coloured by its first label; its whole set leads its tooltip.
    let labels: Vec<String> = rows
        .iter()
        .map(|e| match (ds.multi_label, e.labels.first()) {
            (true, Some(first)) => first.clone(),
            (true, None) => crate::data::NO_LABEL.to_string(),
            (false, _) => e.label.clone(),
        })
        .collect();
    let keep = stratified_sample(&labels, job.max_points, job.options.seed);
    let texts: Vec<&str> = keep.iter().map(|i| rows[*i].text.as_str()).collect();
    let shown: Vec<String> = keep
        .iter()
        .map(|i| match ds.multi_label {
            true => format!("[{}] {}", rows[*i].label, rows[*i].text),
            false => rows[*i].text.clone(),
        })
        .collect();
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    let labels: Vec<String> = keep.iter().map(|i| labels[*i].clone()).collect();
    let fine = Encoder::load(&located.encoder_dir(), &EncoderOptions::default().frozen())?;
    let base_dir = locate(&base_spec, registry, sources)?.encoder_dir();
    let base = Encoder::load(&base_dir, &EncoderOptions::default().frozen())?;
    let long = job.long_text.unwrap_or_else(|| match &located {
        Located::Finetuned { dir, .. } => crate::model::trained_long_text(dir),
        Located::Encoder(_) => Default::default(),
    });
    let eb = base.embed_long(&texts, 64, &long)?;
    let ef = fine.embed_long(&texts, 64, &long)?;
    build(
        (&base_spec, &model_name),
        &shown,
        &labels,
        (&eb, &ef),
        rows.len(),
        &job.options,
    )
}
