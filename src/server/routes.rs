//! The handlers: each checks its request, calls the library on a blocking thread where the work
//! is heavy, and shapes the answer. No tensor code here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::cache::Loaded;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::types::*;
use super::AppState;
use crate::data::LoadOptions;
use crate::encoder::Truncate;
use crate::head::{HeadConfig, LogisticHead};
use crate::model::{locate, Located};
use crate::registry::{ModelRecord, Registry, Status};

type ApiResult<T> = Result<T, ApiError>;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> crate::Result<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("worker failed: {e}")))?
        .map_err(ApiError::from)
}

/// Finds and loads the model `spec` names: a registry ID or nickname, or an allowed base model.
pub(super) async fn model(st: &Arc<AppState>, spec: &str) -> ApiResult<Arc<Loaded>> {
    if spec.trim().is_empty() {
        return Err(ApiError::bad_request(
            "\"model\" is empty: name a model ID, nickname or Hub id",
        ));
    }
    let st2 = st.clone();
    let spec = spec.to_string();
    blocking(move || {
        let reg = Registry::open(&st2.home)?;
        st2.allow.check(&spec, &reg)?;
        let (dir, head) = match locate(&spec, &reg, &st2.sources)? {
            Located::Finetuned { dir, .. } => (dir.join("model"), Some(dir.join("head.json"))),
            Located::Encoder(r) => (r.dir, None),
        };
        st2.cache.get(dir, head)
    })
    .await
}

pub(super) fn check_texts(texts: &[String], what: &str, st: &AppState) -> ApiResult<()> {
    if texts.is_empty() {
        return Err(ApiError::bad_request(format!(
            "\"{what}\" is empty: send at least one text"
        )));
    }
    if texts.len() > st.limits.max_texts {
        return Err(ApiError::bad_request(format!(
            "{} texts in one call; at most {} are allowed: split the request",
            texts.len(),
            st.limits.max_texts
        )));
    }
    if let Some((i, t)) = texts
        .iter()
        .enumerate()
        .find(|(_, t)| t.chars().count() > st.limits.max_text_chars)
    {
        return Err(ApiError::unprocessable(format!(
            "{what}[{i}] has {} characters; at most {} are allowed",
            t.chars().count(),
            st.limits.max_text_chars
        )));
    }
    Ok(())
}

/// Examples are texts the server embeds: capped in count and length like inputs.
fn check_examples(examples: &[Example], st: &AppState) -> ApiResult<()> {
    if examples.len() > st.limits.max_examples {
        return Err(ApiError::bad_request(format!(
            "{} examples in one call; at most {} are allowed: fine-tune a model on them instead (POST /v1/finetuned-models)",
            examples.len(),
            st.limits.max_examples
        )));
    }
    for (i, e) in examples.iter().enumerate() {
        let n = e.text.chars().count();
        if n > st.limits.max_text_chars {
            return Err(ApiError::unprocessable(format!(
                "examples[{i}].text has {n} characters; at most {} are allowed",
                st.limits.max_text_chars
            )));
        }
        if e.label.chars().count() > 200 {
            return Err(ApiError::unprocessable(format!(
                "examples[{i}].label is longer than 200 characters"
            )));
        }
    }
    Ok(())
}

/// The head fitted on a call's `examples`: fitted once per model and set of examples, then
/// reused (clients send the same examples with every call, and the fit costs far more than the
/// embedding).
async fn examples_head(st: &Arc<AppState>, m: &Arc<Loaded>, examples: &[Example]) -> ApiResult<LogisticHead> {
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return Err(ApiError::bad_request("\"examples\" need at least two labels"));
    }
    for l in &labels {
        if examples.iter().filter(|e| &e.label == l).count() < 2 {
            return Err(ApiError::bad_request(format!(
                "label {l:?} has one example; give each label at least 2"
            )));
        }
    }
    let key: [u8; 32] = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for e in examples {
            // Lengths first, so no two lists of examples give the same bytes.
            for part in [&e.text, &e.label] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        h.finalize().into()
    };
    if let Some(head) = m.example_head(key) {
        return Ok(head);
    }
    // One fit at a time per model: concurrent calls with the same new examples wait for the
    // first fit instead of each fitting (100 at once took p99 from 0.6 s to 3.4 s).
    let _fitting = m.fit_gate.lock().await;
    if let Some(head) = m.example_head(key) {
        return Ok(head);
    }
    let texts: Vec<String> = examples.iter().map(|e| e.text.clone()).collect();
    let ids: Vec<usize> = examples
        .iter()
        .map(|e| labels.binary_search(&e.label).unwrap_or(0))
        .collect();
    let x = m.embed(texts, Truncate::End, st.metrics.clone()).await?;
    let head = blocking(move || LogisticHead::fit(&x, &ids, &labels, &HeadConfig::default())).await?;
    m.keep_example_head(key, head.clone());
    Ok(head)
}

/// Ready to serve: the registry's database answers and its store is writable. A load balancer
/// or Kubernetes readiness probe takes a replica out while either is away (503).
pub async fn health(State(st): State<Arc<AppState>>) -> Response {
    let home = st.home.clone();
    let checked =
        tokio::task::spawn_blocking(move || crate::registry::Registry::open(&home).and_then(|r| r.check_health()))
            .await
            .unwrap_or_else(|e| Err(crate::Error::Internal(e.to_string())));
    match checked {
        Ok(()) => axum::Json(HealthResponse {
            status: "ok".into(),
            reason: None,
        })
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(HealthResponse {
                status: "unavailable".into(),
                reason: Some(e.to_string()),
            }),
        )
            .into_response(),
    }
}

pub async fn classify(
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<ClassifyRequest>,
) -> ApiResult<ApiJson<ClassifyResponse>> {
    check_texts(&req.inputs, "inputs", &st)?;
    let m = model(&st, &req.model).await?;
    let examples = req.examples.unwrap_or_default();
    check_examples(&examples, &st)?;
    let head = if !examples.is_empty() {
        crate::head::Head::Single(examples_head(&st, &m, &examples).await?)
    } else {
        m.head.clone().ok_or_else(|| {
            ApiError::bad_request(format!(
                "{} is a base model without a classification head: pass \"examples\", or use a fine-tuned model ID",
                req.model
            ))
        })?
    };
    let long = super::types::long_text_of(
        (req.long_text, req.chunk_stride, req.chunk_pool),
        m.long_text,
        m.encoder.window_tokens(),
    )?;
    let emb = m
        .embed_long(req.inputs.clone(), long, Truncate::End, st.metrics.clone())
        .await?;
    let refs: Vec<&str> = req.inputs.iter().map(String::as_str).collect();
    let out = crate::model::classify_with(&head, &refs, &emb, None)?;
    let classifications = out
        .into_iter()
        .map(|c| {
            let labels: BTreeMap<String, LabelConfidence> = c
                .confidences
                .iter()
                .map(|l| {
                    (
                        l.label.clone(),
                        LabelConfidence {
                            confidence: l.confidence,
                        },
                    )
                })
                .collect();
            let prediction = c.prediction.unwrap_or_default();
            // A multi-label answer lists every label over its threshold (possibly none), as
            // Cohere's multi-label classifications do.
            let (predictions, confidences, kind) = match c.labels {
                Some(set) => (
                    set.iter().map(|l| l.label.clone()).collect(),
                    set.iter().map(|l| l.confidence).collect(),
                    "multi-label",
                ),
                None => (vec![prediction.clone()], vec![c.confidence], "single-label"),
            };
            Classification {
                id: uuid::Uuid::new_v4().to_string(),
                input: c.input,
                predictions,
                prediction,
                confidence: c.confidence,
                confidences,
                labels,
                classification_type: kind,
            }
        })
        .collect();
    Ok(ApiJson(ClassifyResponse {
        id: uuid::Uuid::new_v4().to_string(),
        classifications,
    }))
}

pub async fn upload_dataset(
    State(st): State<Arc<AppState>>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<impl IntoResponse> {
    // A bad multipart header is a JSON error like every other.
    let mut form = form.map_err(|r| {
        ApiError::new(
            r.status(),
            format!(
                "send the file as multipart/form-data with a boundary: {}",
                r.body_text()
            ),
        )
    })?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut name = None;
    let mut columns = LoadOptions::default();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), format!("the upload could not be read: {}", e.body_text())))?
    {
        let field_name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::new(e.status(), format!("the upload could not be read: {}", e.body_text())))?;
        match field_name.as_str() {
            "file" => file = Some((file_name.unwrap_or_else(|| "data.csv".into()), bytes.to_vec())),
            "name" => name = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "text_column" => columns.text_column = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "label_column" => columns.label_column = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "label_separator" => {
                columns.label_separator = Some(String::from_utf8_lossy(&bytes).into_owned()).filter(|s| !s.is_empty())
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field {other:?} (expected file, name, text_column, label_column, label_separator)"
                )))
            }
        }
    }
    let (file_name, bytes) = file.ok_or_else(|| {
        ApiError::bad_request("no \"file\" field: send the CSV or JSONL file as multipart field \"file\"")
    })?;
    let st2 = st.clone();
    let rec = blocking(move || Registry::open(&st2.home)?.store_dataset(&file_name, &bytes, columns, name)).await?;
    let info = DatasetInfo {
        id: rec.id,
        name: rec.name,
        review: rec.review,
    };
    if info.review.blocking {
        let fixes: Vec<String> = info
            .review
            .problems
            .iter()
            .filter(|p| p.severity == crate::data::review::Severity::Blocking)
            .map(|p| format!("{}. {}", p.message.trim_end_matches('.'), p.fix))
            .collect();
        let body = BlockedDataset {
            message: format!("this dataset cannot be trained on: {}", fixes.join(" ")),
            dataset: info,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response());
    }
    Ok((StatusCode::CREATED, axum::Json(info)).into_response())
}

pub async fn get_dataset(
    State(st): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<ApiJson<DatasetInfo>> {
    let home = st.home.clone();
    let rec = blocking(move || Registry::open(&home)?.dataset(&id)).await?;
    Ok(ApiJson(DatasetInfo {
        id: rec.id,
        name: rec.name,
        review: rec.review,
    }))
}

fn view(r: ModelRecord) -> FinetunedModel {
    let selected = r
        .metrics
        .as_ref()
        .and_then(|m| m.selected)
        .map(|c| c.as_str().to_string());
    let reason = r.metrics.as_ref().and_then(|m| m.reason.clone());
    FinetunedModel {
        id: r.id,
        name: r.name,
        base_model: r.base_model,
        status: r.status.as_str().to_string(),
        created: r.created,
        progress: r.progress,
        metrics: r.metrics,
        selected,
        reason,
        error: r.error,
    }
}

pub async fn create_finetune(
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<FinetuneRequest>,
) -> ApiResult<impl IntoResponse> {
    let base = req.base_model.clone().unwrap_or_else(|| crate::DEFAULT_MODEL.into());
    let st2 = st.clone();
    let rec = blocking(move || {
        let reg = Registry::open(&st2.home)?;
        st2.allow.check_base(&base)?;
        let ds = reg.dataset(&req.dataset_id)?;
        if ds.review.blocking {
            return Err(crate::Error::Dataset {
                path: ds.review.path.clone().into(),
                reason: "this dataset has blocking problems (see GET /v1/datasets/{id}); upload a fixed file".into(),
            });
        }
        let s = &req.settings;
        let o = crate::finetune::FinetuneOptions {
            data: reg.dataset_file(&ds),
            text_column: ds.text_column.clone(),
            label_column: ds.label_column.clone(),
            label_separator: ds.label_separator.clone(),
            long_text: s.long_text(),
            name: Some(req.name.clone()),
            base,
            train: crate::train::TrainSettings {
                epochs: s.epochs,
                learning_rate: s.learning_rate,
                batch_size: s.batch_size,
                max_steps: s.max_steps,
                loss: s.loss,
                seed: s.seed,
                dtype: s.dtype,
                ..Default::default()
            },
            ..Default::default()
        };
        let id = crate::finetune::enqueue(&o, &reg)?;
        reg.get_any(&id)?.ok_or(crate::Error::NotInRegistry { id })
    })
    .await?;
    st.notify_jobs();
    Ok((StatusCode::CREATED, axum::Json(view(rec))))
}

/// A registry entry by ID, or by nickname as `/v1/embed` takes it.
async fn record(st: &Arc<AppState>, id: &str) -> ApiResult<ModelRecord> {
    let home = st.home.clone();
    let id2 = id.to_string();
    blocking(move || {
        let reg = Registry::open(&home)?;
        if let Some(r) = reg.get_any(&id2)? {
            return Ok(Some(r));
        }
        let mut named: Vec<ModelRecord> = reg
            .list(true)?
            .into_iter()
            .filter(|r| r.name.as_deref() == Some(id2.as_str()))
            .collect();
        // The newest of a nickname's models, as listing shows them first.
        Ok((!named.is_empty()).then(|| named.remove(0)))
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no fine-tuned model {id:?} (see GET /v1/models)")))
}

pub async fn get_finetune(
    State(st): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<ApiJson<FinetunedModel>> {
    Ok(ApiJson(view(record(&st, &id).await?)))
}

/// `DELETE /v1/finetuned-models/{id}`: removes a model, a queued job or a stopped run (204). A
/// run in training is cancelled instead (202): it stops at its next step with a checkpoint and
/// becomes `CANCELLED`; a second DELETE then removes it.
pub async fn delete_finetune(
    State(st): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::response::Response> {
    let rec = record(&st, &id).await?;
    let st2 = st.clone();
    let removed = blocking(move || {
        let reg = Registry::open(&st2.home)?;
        if rec.status == Status::Finetuning && !reg.request_cancel(&rec.id)? {
            return Ok(false);
        }
        st2.cache.evict(&rec.path.join("model"));
        reg.remove(&rec.id).map(|_| true)
    })
    .await?;
    if removed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let body = ErrorBody {
        message: format!(
            "{id} is training: it stops at its next step (a checkpoint is kept) and becomes CANCELLED; DELETE it again to remove it"
        ),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapQuery {
    #[serde(default)]
    method: Option<String>,
}

/// `GET /v1/finetuned-models/{id}/map`: the model's held-out validation rows in 2D under the
/// base model and under the fine-tuned one (`?method=tsne`, the default, or `pca`). Built once
/// per method and kept in the model's folder.
pub async fn get_map(
    State(st): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> ApiResult<ApiJson<serde_json::Value>> {
    // t-SNE by default; PCA where asked for, or where there are too few rows for t-SNE.
    let method = match q.method.as_deref() {
        None => None,
        Some("tsne") => Some(crate::map::Method::Tsne),
        Some("pca") => Some(crate::map::Method::Pca),
        Some(other) => return Err(ApiError::bad_request(format!("method {other:?}: use tsne or pca"))),
    };
    let rec = record(&st, &id).await?;
    let st2 = st.clone();
    let map = blocking(move || crate::map::stored_map(&rec, method, &Registry::open(&st2.home)?, &st2.sources)).await?;
    Ok(ApiJson(map))
}

pub async fn list_models(State(st): State<Arc<AppState>>) -> ApiResult<ApiJson<ModelList>> {
    let home = st.home.clone();
    let all = blocking(move || Registry::open(&home)?.list(true)).await?;
    Ok(ApiJson(ModelList {
        models: all.into_iter().map(view).collect(),
    }))
}

/// `GET /v1/bases`: the catalogue of known base models, each marked allowed or not here.
pub async fn list_bases(State(st): State<Arc<AppState>>) -> ApiResult<ApiJson<BaseList>> {
    let bases = blocking(move || {
        let sources = crate::SourceOptions::from_env();
        Ok(crate::source::catalog::bases(&sources)
            .into_iter()
            .map(|s| BaseModel {
                allowed: st.allow.check_base(s.base.hub_id).is_ok(),
                name: s.base.name.into(),
                hub_id: s.base.hub_id.into(),
                family: s.base.family.into(),
                params_m: s.base.params_m,
                dim: s.base.dim,
                max_tokens: s.base.max_tokens,
                languages: s.base.languages.into(),
                multilingual: s.base.multilingual,
                fetch: s.fetch,
            })
            .collect())
    })
    .await?;
    Ok(ApiJson(BaseList { bases }))
}

pub async fn metrics(State(st): State<Arc<AppState>>) -> ApiResult<impl IntoResponse> {
    let home = st.home.clone();
    // Workers heard from within three lease terms; older rows are workers that went away.
    let within = 3_000 * crate::registry::lease_seconds() as i64;
    let queue = blocking(move || Registry::open(&home)?.queue_stats(within)).await?;
    let body = st.metrics.render(&queue, st.cache.loaded(), st.cache.loads());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi::document())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method; see GET /openapi.json",
    )
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see GET /openapi.json")
}
