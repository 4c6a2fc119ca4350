//! Classification heads on top of sentence embeddings.

pub mod logistic;

pub use logistic::{HeadConfig, LogisticHead};
