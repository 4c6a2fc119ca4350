//! Reading texts from user files and writing embeddings out.

pub mod embeddings;
pub mod texts;

pub use embeddings::{write_embeddings, OutputFormat};
pub use texts::{read_texts, TextFile};
