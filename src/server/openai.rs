//! OpenAI's embeddings route, as the official SDKs call it: `encoding_format` `float` or
//! `base64` (the SDKs' default), `dimensions` (shortened and scaled back to unit length), `user`,
//! and errors in OpenAI's envelope (`{"error": {"message", "type", "param", "code"}}`) so the SDKs
//! raise their typed errors.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::{ApiError, ApiJson, ApiPath};
use super::routes::{check_texts, model};
use super::types::*;
use super::AppState;
use crate::encoder::Truncate;
use crate::registry::Registry;

/// An API error in OpenAI's envelope.
pub struct OpenAiError(ApiError);

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        OpenAiError(e)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let (kind, code) = match status {
            StatusCode::UNAUTHORIZED => ("authentication_error", Some("invalid_api_key")),
            StatusCode::FORBIDDEN => ("permission_error", None),
            StatusCode::NOT_FOUND => ("invalid_request_error", Some("model_not_found")),
            s if s.is_server_error() => ("server_error", None),
            _ => ("invalid_request_error", None),
        };
        let body = OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message: self.0.message,
                kind,
                param: None,
                code,
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

/// Keeps the first `d` numbers of each row and scales them back to unit length.
pub fn shorten(rows: &mut [Vec<f32>], d: usize) {
    for r in rows.iter_mut() {
        r.truncate(d);
        let norm = r.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            r.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

/// Little-endian float32 bytes in base64, as OpenAI encodes them.
pub fn base64_f32(row: &[f32]) -> String {
    let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub async fn embeddings(
    State(st): State<Arc<AppState>>,
    req: Result<ApiJson<OpenAiRequest>, ApiError>,
) -> Result<ApiJson<OpenAiResponse>, OpenAiError> {
    let ApiJson(req) = req?;
    let texts = match req.input {
        OpenAiInput::One(s) => vec![s],
        OpenAiInput::Many(v) => v,
    };
    check_texts(&texts, "input", &st)?;
    let m = model(&st, &req.model).await?;
    let dim = m.encoder.dim();
    if let Some(d) = req.dimensions {
        if d == 0 || d > dim {
            return Err(ApiError::bad_request(format!(
                "\"dimensions\" is {d}; this model gives {dim}: ask for 1 to {dim}"
            ))
            .into());
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tokens: usize = m
        .encoder
        .tokenizer()
        .lengths(&refs)
        .map_err(ApiError::from)?
        .iter()
        .sum();
    let mut rows = m
        .embed(texts, Truncate::End, st.metrics.clone())
        .await
        .map_err(ApiError::from)?;
    if let Some(d) = req.dimensions.filter(|d| *d < dim) {
        shorten(&mut rows, d);
    }
    let base64 = req.encoding_format == Some(EncodingFormat::Base64);
    Ok(ApiJson(OpenAiResponse {
        object: "list",
        data: rows
            .into_iter()
            .enumerate()
            .map(|(index, e)| OpenAiEmbedding {
                object: "embedding",
                embedding: if base64 {
                    OpenAiVector::Base64(base64_f32(&e))
                } else {
                    OpenAiVector::Float(e)
                },
                index,
            })
            .collect(),
        model: req.model,
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

fn model_object(id: String, created: &str, owned_by: &'static str) -> OpenAiModel {
    OpenAiModel {
        created: chrono::DateTime::parse_from_rfc3339(created).map_or(0, |t| t.timestamp()),
        id,
        object: "model",
        owned_by,
    }
}

/// The models a client may name: the registry's ready models (by ID) and the allowed base
/// models given by name (folders are not listed).
fn models(st: &AppState) -> crate::Result<Vec<OpenAiModel>> {
    let reg = Registry::open(&st.home)?;
    let mut out: Vec<OpenAiModel> = reg
        .list(false)?
        .into_iter()
        .map(|r| model_object(r.id, &r.created, "attune"))
        .collect();
    out.extend(st.allow.named().map(|m| model_object(m.clone(), "", "base")));
    Ok(out)
}

/// `GET /v1/models` in OpenAI's shape (the richer listing is `GET /v1/finetuned-models`).
pub async fn list_models(State(st): State<Arc<AppState>>) -> Result<ApiJson<OpenAiModelList>, OpenAiError> {
    let data = tokio::task::spawn_blocking(move || models(&st))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)?;
    Ok(ApiJson(OpenAiModelList { object: "list", data }))
}

/// `GET /v1/models/{id}`: a ready registry model by ID or nickname, or an allowed base model.
pub async fn get_model(
    State(st): State<Arc<AppState>>,
    id: Result<ApiPath<String>, ApiError>,
) -> Result<ApiJson<OpenAiModel>, OpenAiError> {
    let ApiPath(id) = id?;
    let found = tokio::task::spawn_blocking(move || -> crate::Result<Option<OpenAiModel>> {
        let reg = Registry::open(&st.home)?;
        if let Some(r) = reg.find(&id).ok().flatten() {
            return Ok(Some(model_object(r.id, &r.created, "attune")));
        }
        Ok(models(&st)?.into_iter().find(|m| m.id == id))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(ApiError::from)?;
    found
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("no such model: see GET /v1/models").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32_and_shortening_renormalises() {
        let b = base64_f32(&[1.0, -2.5]);
        let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
        assert_eq!(bytes, [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat());
        let mut rows = vec![vec![0.6, 0.8, 0.0, 0.0], vec![3.0, 4.0, 5.0, 0.0]];
        shorten(&mut rows, 2);
        assert_eq!(rows[0], vec![0.6, 0.8]);
        assert!((rows[1][0] - 0.6).abs() < 1e-6 && (rows[1][1] - 0.8).abs() < 1e-6);
    }
}
