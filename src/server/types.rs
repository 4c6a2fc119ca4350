//! Request and response bodies of the HTTP API. Field names follow the hosted reference (Embed,
//! Classify) and OpenAI (`/v1/embeddings`) so existing clients work.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::encoder::Truncate;

/// `POST /v1/embed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    pub texts: Vec<String>,
    pub model: String,
    /// Accepted for compatibility (`search_document`, `search_query`, `classification`,
    /// `clustering`); the models attune serves embed every type the same way.
    #[serde(default)]
    pub input_type: Option<String>,
    /// When given, the answer's `embeddings` is an object with one entry per type.
    #[serde(default)]
    pub embedding_types: Option<Vec<EmbeddingType>>,
    #[serde(default)]
    pub truncate: Option<Truncate>,
}

/// The encodings `/v1/embed` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingType {
    /// f32 values.
    Float,
    /// `round(127 x)`, for unit-length embeddings.
    Int8,
    /// `round(127.5 (x + 1))`.
    Uint8,
    /// Sign bits packed 8 to a byte, as signed bytes (byte - 128).
    Binary,
    /// Sign bits packed 8 to a byte.
    Ubinary,
}

/// `POST /v1/embed` answer.
#[derive(Debug, Serialize)]
pub struct EmbedResponse {
    pub id: String,
    pub texts: Vec<String>,
    pub embeddings: Embeddings,
    pub meta: Meta,
}

/// Float vectors, or an object by type when `embedding_types` was given.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Embeddings {
    Float(Vec<Vec<f32>>),
    ByType(BTreeMap<String, serde_json::Value>),
}

#[derive(Debug, Serialize)]
pub struct Meta {
    pub model: String,
    pub dimensions: usize,
}

/// `POST /v1/classify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    pub inputs: Vec<String>,
    pub model: String,
    /// Labelled examples: with a base model, a head is fitted on them for this call.
    #[serde(default)]
    pub examples: Option<Vec<Example>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub text: String,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct ClassifyResponse {
    pub id: String,
    pub classifications: Vec<Classification>,
}

#[derive(Debug, Serialize)]
pub struct Classification {
    pub id: String,
    pub input: String,
    pub prediction: String,
    pub predictions: Vec<String>,
    pub confidence: f32,
    pub confidences: Vec<f32>,
    pub labels: BTreeMap<String, LabelConfidence>,
    pub classification_type: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LabelConfidence {
    pub confidence: f32,
}

/// `POST /v1/embeddings` (OpenAI's shape).
#[derive(Debug, Deserialize)]
pub struct OpenAiRequest {
    pub input: OpenAiInput,
    pub model: String,
    /// Only `"float"` is supported.
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OpenAiInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Serialize)]
pub struct OpenAiResponse {
    pub object: &'static str,
    pub data: Vec<OpenAiEmbedding>,
    pub model: String,
    pub usage: Usage,
}

#[derive(Debug, Serialize)]
pub struct OpenAiEmbedding {
    pub object: &'static str,
    pub embedding: Vec<f32>,
    pub index: usize,
}

#[derive(Debug, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// `POST /v1/finetuned-models`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneRequest {
    pub name: String,
    pub dataset_id: String,
    #[serde(default)]
    pub base_model: Option<String>,
    #[serde(default)]
    pub settings: Settings,
}

/// Hyper-parameters a job may set; the rest keep attune's defaults.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub epochs: Option<usize>,
    pub learning_rate: Option<f64>,
    pub batch_size: Option<usize>,
    pub max_steps: Option<usize>,
    pub loss: Option<crate::train::LossKind>,
    pub seed: Option<u64>,
}

/// A fine-tuned model as the API shows it.
#[derive(Debug, Serialize)]
pub struct FinetunedModel {
    pub id: String,
    pub name: Option<String>,
    pub base_model: String,
    pub status: String,
    pub created: String,
    pub progress: Option<crate::registry::JobProgress>,
    pub metrics: Option<crate::registry::RunMetrics>,
    /// Once ready: "finetuned" or "base", the model the run chose on its selection rows.
    pub selected: Option<String>,
    /// Why, in one sentence (with what to try next when fine-tuning did not help).
    pub reason: Option<String>,
    pub error: Option<String>,
}

/// An uploaded dataset and its review.
#[derive(Debug, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub id: String,
    pub name: String,
    pub review: crate::data::review::Review,
}

/// The answer to an upload that cannot be trained on (422): why, and the review.
#[derive(Debug, Serialize)]
pub struct BlockedDataset {
    pub message: String,
    pub dataset: DatasetInfo,
}

#[derive(Debug, Serialize)]
pub struct ModelList {
    pub models: Vec<FinetunedModel>,
}

/// Every error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub message: String,
}
