//! One error type for the library. Every variant that comes from a user's file names the file
//! (and the line where there is one), so the CLI can print it as it is.

use std::path::PathBuf;

/// A crate-wide result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A model folder that is missing a file or holds one that cannot be used.
    #[error("model folder {}: {reason}", path.display())]
    ModelFolder { path: PathBuf, reason: String },

    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{}: model_type {model_type:?} is not supported (supported: {supported})", path.display())]
    UnknownModelType {
        path: PathBuf,
        model_type: String,
        supported: String,
    },

    #[error("{}: cannot read weights: {reason}", path.display())]
    Weights { path: PathBuf, reason: String },

    #[error("{}: tokenizer: {reason}", path.display())]
    Tokenizer { path: PathBuf, reason: String },

    /// No source could provide the model; `attempts` says what was tried and why it failed.
    #[error("could not find model {spec:?}; tried:\n{}", attempts.iter().map(|a| format!("  - {a}")).collect::<Vec<_>>().join("\n"))]
    ModelNotFound { spec: String, attempts: Vec<String> },

    #[error("download {url}: {reason}")]
    Download { url: String, reason: String },

    /// A problem in a user's input file, at a line when one is known.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Input {
        path: PathBuf,
        line: Option<usize>,
        reason: String,
    },

    /// A labelled or text file without the column it needs; each face adds how to name one.
    #[error("{}, line 1: {looked}; the header has {headers}. Name the {} column", path.display(), column.name())]
    MissingColumn {
        path: PathBuf,
        column: Column,
        looked: String,
        headers: String,
    },

    #[error("registry {}: {reason}", path.display())]
    Registry { path: PathBuf, reason: String },

    /// The shared database (`ATTUNE_DATABASE_URL`) could not be reached or refused a statement.
    #[error("registry database {at}: {reason}")]
    Database { at: String, reason: String },

    /// An environment setting of the deployment (`ATTUNE_DATABASE_URL`, `ATTUNE_STORE`) that
    /// cannot work.
    #[error("{variable}: {reason}")]
    Deployment { variable: &'static str, reason: String },

    /// The model store (`ATTUNE_STORE`) could not be reached or refused a transfer.
    #[error("model store {at}: {reason}")]
    Store { at: String, reason: String },

    /// A registry model that cannot be used as it is.
    #[error("model {id} {reason}")]
    ModelState { id: String, reason: String },

    /// A server's request named a model outside its registry and its allow-list.
    #[error("no model {spec:?}: name a fine-tuned model by ID or nickname (GET /v1/models){}", if allowed.is_empty() { String::new() } else { format!(" or an allowed base model ({})", allowed.join(", ")) })]
    ModelNotAllowed { spec: String, allowed: Vec<String> },

    /// No stored dataset has this ID.
    #[error("no dataset {id:?}; upload one first")]
    DatasetNotFound { id: String },

    /// No registry entry has this ID.
    #[error("model {id} is not in the registry (see `attune models list --all`)")]
    NotInRegistry { id: String },

    /// Another live process trains this run; its lease says so.
    #[error("model {id} is being trained by another process ({owner}); wait for it, or cancel it first")]
    Leased { id: String, owner: String },

    /// The run was cancelled on request; its checkpoint lets it resume.
    #[error("model {id} was cancelled; resume it with `attune finetune --resume {id}` or remove it")]
    Cancelled { id: String },

    /// A training setting outside what can work, caught before anything loads.
    #[error("{setting}: {reason}")]
    Setting {
        setting: crate::finetune::Setting,
        reason: String,
    },

    /// Training data that cannot be trained on.
    #[error("{}: {reason}", path.display())]
    Dataset { path: PathBuf, reason: String },

    /// A text longer than the model takes, when truncation is off.
    #[error("text {index} has {tokens} tokens; the model takes at most {max} (allow truncation to cut it)")]
    TooLong { index: usize, tokens: usize, max: usize },

    /// Training stopped on request; its checkpoint lets it resume.
    #[error("interrupted: {0}")]
    Interrupted(String),

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Too few points for a projection; PCA needs fewer.
    #[error("{method} needs at least {need} points, got {have}; use the PCA method")]
    TooFewPoints {
        method: &'static str,
        have: usize,
        need: usize,
    },

    /// A failure inside attune, not in what the caller sent (a bug, or a resource that failed).
    #[error("internal error: {0}")]
    Internal(String),

    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
}

/// A column of a data file, as each face names its option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Text,
    Label,
}

impl Column {
    pub fn name(self) -> &'static str {
        match self {
            Column::Text => "text",
            Column::Label => "label",
        }
    }

    /// The CLI flag that names it.
    pub fn flag(self) -> &'static str {
        match self {
            Column::Text => "--text-column",
            Column::Label => "--label-column",
        }
    }

    /// The API's form field that names it.
    pub fn field(self) -> &'static str {
        match self {
            Column::Text => "text_column",
            Column::Label => "label_column",
        }
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn folder(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::ModelFolder {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn input(path: impl Into<PathBuf>, line: Option<usize>, reason: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}
