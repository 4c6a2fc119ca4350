//! Labelled datasets: loading (CSV, TSV, JSONL), review (problems and their fixes) and the
//! validation split.

pub mod dataset;
pub mod language;
pub mod review;
pub mod review_model;
pub mod split;

pub use dataset::{set_name, BadRow, Dataset, Example, LoadOptions, NO_LABEL};
pub use review::{review, Problem, Review, ReviewOptions, Severity};
pub use review_model::review_with_model;
pub use split::{stratified_split, Split};
