//! Evaluation: classification metrics, the cosine silhouette of embeddings by label, and
//! similarity helpers.

pub mod metrics;
pub mod multi;
pub mod similarity;

pub use metrics::{silhouette, silhouette_euclidean, LabelMetrics, Metrics};
pub use multi::{compute_multi, predict_sets, MultiLabelFigures};
