//! Cohere's embed routes, as the official SDKs call them: v1 (`/v1/embed`, with
//! `response_type` and Cohere's `meta`) and v2 (`/v2/embed`, embeddings always by type).
//! Token counts in `billed_units` come from the model's own tokenizer.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;

use super::error::{ApiError, ApiJson};
use super::routes::{check_texts, model};
use super::types::*;
use super::AppState;
use crate::encoder::Truncate;

type ApiResult<T> = Result<T, ApiError>;

/// A request's `long_text`, `chunk_stride` and `chunk_pool`.
type LongTextFields = (
    Option<crate::encoder::LongTextMode>,
    Option<usize>,
    Option<crate::encoder::ChunkPool>,
);

/// Embeds `texts` with `model`; the vectors, the model's dimension and the tokens read.
async fn embed_texts(
    st: &Arc<AppState>,
    model_name: &str,
    texts: &[String],
    truncate: Truncate,
    long: LongTextFields,
) -> ApiResult<(Vec<Vec<f32>>, usize, usize)> {
    check_texts(texts, "texts", st)?;
    let m = model(st, model_name).await?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens: usize = m
        .encoder
        .tokenizer()
        .lengths(&refs)?
        .iter()
        .map(|n| (*n).min(m.encoder.max_seq_length()))
        .sum();
    let long = super::types::long_text_of(long, m.long_text, m.encoder.window_tokens())?;
    let rows = m.embed_long(texts.to_vec(), long, truncate, st.metrics.clone()).await?;
    Ok((rows, m.encoder.dim(), tokens))
}

fn by_type(rows: &[Vec<f32>], types: &[EmbeddingType]) -> BTreeMap<String, serde_json::Value> {
    types
        .iter()
        .map(|t| {
            let name = serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            (name, quantize(rows, *t))
        })
        .collect()
}

fn meta(model: String, dimensions: usize, version: &'static str, tokens: usize) -> Meta {
    Meta {
        model,
        dimensions,
        api_version: ApiVersion { version },
        billed_units: BilledUnits { input_tokens: tokens },
    }
}

/// `POST /v1/embed`.
pub async fn embed_v1(
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbedRequest>,
) -> ApiResult<ApiJson<EmbedResponse>> {
    if req.embedding_types.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::bad_request(
            "\"embedding_types\" is empty: leave it out or name at least one type",
        ));
    }
    let truncate = req.truncate.unwrap_or(Truncate::End);
    let long = (req.long_text, req.chunk_stride, req.chunk_pool);
    let (rows, dimensions, tokens) = embed_texts(&st, &req.model, &req.texts, truncate, long).await?;
    let (embeddings, response_type) = match &req.embedding_types {
        None => (Embeddings::Float(rows), "embeddings_floats"),
        Some(types) => (Embeddings::ByType(by_type(&rows, types)), "embeddings_by_type"),
    };
    Ok(ApiJson(EmbedResponse {
        id: uuid::Uuid::new_v4().to_string(),
        response_type,
        texts: req.texts,
        embeddings,
        meta: meta(req.model, dimensions, "1", tokens),
    }))
}

/// `POST /v2/embed`: embeddings always by type (`float` when none is named).
pub async fn embed_v2(
    State(st): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbedV2Request>,
) -> ApiResult<ApiJson<EmbedV2Response>> {
    let types = match req.embedding_types {
        None => vec![EmbeddingType::Float],
        Some(t) if t.is_empty() => {
            return Err(ApiError::bad_request(
                "\"embedding_types\" is empty: leave it out or name at least one type",
            ))
        }
        Some(t) => t,
    };
    let truncate = req.truncate.unwrap_or(Truncate::End);
    let (rows, dimensions, tokens) = embed_texts(&st, &req.model, &req.texts, truncate, (None, None, None)).await?;
    Ok(ApiJson(EmbedV2Response {
        id: uuid::Uuid::new_v4().to_string(),
        response_type: "embeddings_by_type",
        texts: req.texts,
        embeddings: by_type(&rows, &types),
        meta: meta(req.model, dimensions, "2", tokens),
    }))
}

fn quantize(rows: &[Vec<f32>], t: EmbeddingType) -> serde_json::Value {
    let pack = |r: &Vec<f32>| -> Vec<u8> {
        r.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, v)| if *v > 0.0 { b | (0x80 >> i) } else { b })
            })
            .collect()
    };
    match t {
        EmbeddingType::Float => serde_json::json!(rows),
        EmbeddingType::Int8 => serde_json::json!(rows
            .iter()
            .map(|r| r
                .iter()
                .map(|v| (v * 127.0).round().clamp(-128.0, 127.0) as i8)
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()),
        EmbeddingType::Uint8 => serde_json::json!(rows
            .iter()
            .map(|r| r
                .iter()
                .map(|v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8)
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()),
        EmbeddingType::Binary => serde_json::json!(rows
            .iter()
            .map(|r| pack(r).into_iter().map(|b| (b as i16 - 128) as i8).collect::<Vec<_>>())
            .collect::<Vec<_>>()),
        EmbeddingType::Ubinary => serde_json::json!(rows.iter().map(pack).collect::<Vec<_>>()),
    }
}
