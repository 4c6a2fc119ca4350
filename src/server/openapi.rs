//! `GET /openapi.json`, generated from the request and response types (`types.rs`) and the
//! route list below, so the description cannot drift from what the server takes and answers.
//! The handlers stay in `routes.rs`; each entry here describes one route.
#![allow(dead_code)]

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::types::*;

/// The projections a map can use.
#[derive(utoipa::ToSchema)]
#[allow(non_camel_case_types)]
enum MapMethod {
    tsne,
    pca,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "attune",
        description = "Embed, classify and fine-tune text-embedding models. Errors are JSON {\"message\"}. With API keys, every route but /health needs Authorization: Bearer KEY; a KEY:inference key may only embed, classify and list models. Requests name registry models (ID or nickname) and the base models the server allows."
    ),
    paths(
        embed, embed_v2, classify, embeddings, upload_dataset, get_dataset, create_finetune, get_finetune,
        delete_finetune, get_map, list_finetuned, list_bases, list_models, get_model, health, metrics
    ),
    components(schemas(ErrorBody, MapMethod)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_else(|_| "{}".into()))
}

#[utoipa::path(post, path = "/v1/embed", request_body = EmbedRequest,
    description = "Embeddings of up to 96 texts (Cohere's shape); embedding_types answers int8, uint8, binary or ubinary too.",
    responses(
        (status = 200, body = EmbedResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown or not allowed model", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
fn embed() {}

#[utoipa::path(post, path = "/v2/embed", request_body = EmbedV2Request,
    description = "Cohere's v2 embed: embeddings by type (float when none is named).",
    responses(
        (status = 200, body = EmbedV2Response),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
fn embed_v2() {}

#[utoipa::path(post, path = "/v1/classify", request_body = ClassifyRequest,
    description = "Labels and confidences; with examples (at most 512) a head is fitted on them for a base model.",
    responses(
        (status = 200, body = ClassifyResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
fn classify() {}

#[utoipa::path(post, path = "/v1/embeddings", request_body = OpenAiRequest,
    description = "OpenAI's embeddings shape; errors in OpenAI's envelope (the key check's 401 and 403 in attune's).",
    responses(
        (status = 200, body = OpenAiResponse),
        (status = 400, body = OpenAiErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = OpenAiErrorBody), (status = 413, body = OpenAiErrorBody), (status = 415, body = OpenAiErrorBody),
        (status = 422, body = OpenAiErrorBody)))]
fn embeddings() {}

#[utoipa::path(post, path = "/v1/datasets", request_body(content = UploadForm, content_type = "multipart/form-data"),
    description = "Upload a labelled file; answered with its review. Blocking problems are a 422 with the fix.",
    responses(
        (status = 201, body = DatasetInfo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Unreadable, or not trainable (then with the review)", body = ErrorBody)))]
fn upload_dataset() {}

#[utoipa::path(get, path = "/v1/datasets/{id}", params(("id" = String, Path)),
    responses((status = 200, body = DatasetInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
fn get_dataset() {}

#[utoipa::path(post, path = "/v1/finetuned-models", request_body = FinetuneRequest,
    description = "Queue a fine-tune: QUEUED -> FINETUNING -> READY | FAILED | CANCELLED. Settings out of range are a 400 naming the field.",
    responses(
        (status = 201, body = FinetunedModel),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
fn create_finetune() {}

#[utoipa::path(get, path = "/v1/finetuned-models/{id}", params(("id" = String, Path, description = "ID or nickname")),
    description = "Status, progress and, when READY, the test-row metrics of the baseline and the fine-tuned model, which was selected and why.",
    responses((status = 200, body = FinetunedModel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
fn get_finetune() {}

#[utoipa::path(delete, path = "/v1/finetuned-models/{id}", params(("id" = String, Path, description = "ID or nickname")),
    description = "Removes a model, a queued job or a stopped run (204); cancels a run in training (202), which stops at its next step with a checkpoint and becomes CANCELLED.",
    responses((status = 204, description = "Removed"), (status = 202, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
fn delete_finetune() {}

#[utoipa::path(get, path = "/v1/finetuned-models/{id}/map",
    params(("id" = String, Path), ("method" = Option<MapMethod>, Query, description = "tsne (default) or pca")),
    description = "The model's test rows in 2D under the base model and under the fine-tuned one.",
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
fn get_map() {}

#[utoipa::path(get, path = "/v1/finetuned-models", description = "Every fine-tuned model with its status, progress and metrics.",
    responses((status = 200, body = ModelList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
fn list_finetuned() {}

#[utoipa::path(get, path = "/v1/bases", description = "The base models attune knows (family, size, dimension, languages, token limit), each marked allowed or not on this server, and where the server can have it from.",
    responses((status = 200, body = BaseList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
fn list_bases() {}

#[utoipa::path(get, path = "/v1/models", description = "OpenAI's model list: the ready fine-tuned models and the allowed base models.",
    responses((status = 200, body = OpenAiModelList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
fn list_models() {}

#[utoipa::path(get, path = "/v1/models/{id}", params(("id" = String, Path, description = "ID, nickname or allowed base model")),
    description = "One model in OpenAI's shape.",
    responses((status = 200, body = OpenAiModel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = OpenAiErrorBody)))]
fn get_model() {}

#[utoipa::path(get, path = "/health", security(()), responses(
    (status = 200, body = HealthResponse, description = "The database and the store answer"),
    (status = 503, body = HealthResponse, description = "The database or the store is away")
))]
fn health() {}

#[utoipa::path(get, path = "/metrics", description = "Prometheus text format.",
    responses((status = 200, content_type = "text/plain", body = String), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
fn metrics() {}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_described_with_its_schemas() {
        let doc: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        for (path, method) in [
            ("/v1/embed", "post"),
            ("/v1/classify", "post"),
            ("/v1/embeddings", "post"),
            ("/v1/datasets", "post"),
            ("/v1/datasets/{id}", "get"),
            ("/v1/finetuned-models", "post"),
            ("/v1/finetuned-models/{id}", "get"),
            ("/v1/finetuned-models/{id}", "delete"),
            ("/v1/finetuned-models/{id}/map", "get"),
            ("/v1/models", "get"),
            ("/v1/bases", "get"),
            ("/health", "get"),
            ("/metrics", "get"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        let schemas = &doc["components"]["schemas"];
        for s in [
            "EmbedRequest",
            "EmbedResponse",
            "ClassifyRequest",
            "FinetuneRequest",
            "FinetunedModel",
            "ErrorBody",
        ] {
            assert!(schemas[s].is_object(), "{s}");
        }
        // The request types refuse unknown fields, and the document says so.
        assert_eq!(schemas["EmbedRequest"]["additionalProperties"], false);
    }
}
