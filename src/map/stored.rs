//! The map of a registry model's test rows, as the API and the dashboard show it: built once
//! per method and kept in the model's folder (`map-tsne.json`, `map-pca.json`).

use super::{json, map_models, MapJob, MapOptions, Method};
use crate::data::LoadOptions;
use crate::error::{Error, Result};
use crate::registry::{ModelRecord, Registry, Status};
use crate::source::SourceOptions;

/// Points a stored map draws at most (a stratified sample past that).
const MAX_POINTS: usize = 2000;

/// The map of `rec` by `method`, or, without one, by t-SNE where there are enough rows for it
/// and PCA otherwise.
pub fn stored_map(
    rec: &ModelRecord,
    method: Option<Method>,
    registry: &Registry,
    sources: &SourceOptions,
) -> Result<serde_json::Value> {
    if rec.status != Status::Ready {
        return Err(Error::ModelState {
            id: rec.id.clone(),
            reason: format!("is {}; its map can be drawn once it is READY", rec.status.as_str()),
        });
    }
    let methods = match method {
        Some(m) => vec![m],
        None => vec![Method::Tsne, Method::Pca],
    };
    let mut last = None;
    for method in methods {
        let name = match method {
            Method::Tsne => "tsne",
            Method::Pca => "pca",
        };
        let cached = rec.path.join(format!("map-{name}.json"));
        if let Ok(v) = crate::encoder::config::read_json(&cached) {
            return Ok(v);
        }
        let job = MapJob {
            model: rec.id.clone(),
            baseline: None,
            data: None,
            load: LoadOptions::default(),
            max_points: MAX_POINTS,
            options: MapOptions {
                method,
                ..Default::default()
            },
            // Drawn as the model was trained: chunked when its run chunked long texts.
            long_text: None,
        };
        match map_models(&job, registry, sources) {
            Ok(m) => {
                let v = json(&m);
                crate::util::write_atomic(&cached, |w| serde_json::to_writer(w, &v).map_err(std::io::Error::other))?;
                return Ok(v);
            }
            // Too few rows for t-SNE: PCA next.
            Err(e @ Error::TooFewPoints { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Internal("no map method was tried".into())))
}
