//! Uploaded datasets, kept under `ATTUNE_HOME/datasets/<uuid>/`: the file as uploaded and a
//! typed record (`dataset.json`) with its review. The record never holds a server path: a
//! dataset is named by its id and its upload's file name only.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Registry;
use crate::data::review::{review, ModelView, Review, ReviewOptions};
use crate::data::{Dataset, LoadOptions};
use crate::error::{Error, Result};
use crate::util::write_atomic;

/// A stored dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub id: String,
    pub name: String,
    /// The stored file's name inside the dataset's folder (`data.csv`, `data.jsonl`, ...).
    pub file: String,
    pub text_column: Option<String>,
    pub label_column: Option<String>,
    /// The separator of a multi-label CSV/TSV's label cells.
    #[serde(default)]
    pub label_separator: Option<String>,
    /// The review at upload; its `path` is the upload's file name.
    pub review: Review,
}

/// Records written before the record was typed: `{"info": {id, name, review}, "columns", "file"}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Typed(DatasetRecord),
    Legacy {
        info: LegacyInfo,
        columns: LegacyColumns,
        file: String,
    },
}

#[derive(Deserialize)]
struct LegacyInfo {
    id: String,
    name: String,
    review: Review,
}

#[derive(Deserialize)]
struct LegacyColumns {
    text: Option<String>,
    label: Option<String>,
}

const RECORD: &str = "dataset.json";

impl DatasetRecord {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            text_column: self.text_column.clone(),
            label_column: self.label_column.clone(),
            label_separator: self.label_separator.clone(),
            separator_may_be_absent: false,
        }
    }
}

impl Registry {
    pub(super) fn datasets_dir(&self) -> PathBuf {
        self.root.join("datasets")
    }

    /// Stores an uploaded file and its review. `file_name` is the upload's name (its extension
    /// says the format); a file that cannot be read is not kept, and the error names the upload,
    /// not a server path.
    pub fn store_dataset(
        &self,
        file_name: &str,
        bytes: &[u8],
        columns: LoadOptions,
        name: Option<String>,
    ) -> Result<DatasetRecord> {
        let ext = std::path::Path::new(file_name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .filter(|e| matches!(e.as_str(), "csv" | "tsv" | "jsonl"))
            .ok_or_else(|| Error::Dataset {
                path: file_name.into(),
                reason: "upload a .csv, .tsv or .jsonl file".into(),
            })?;
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.datasets_dir().join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let file = format!("data.{ext}");
        let path = dir.join(&file);
        let reviewed = write_atomic(&path, |w| w.write_all(bytes))
            .and_then(|_| Dataset::load(&path, &columns))
            .and_then(|ds| review(&ds, &ReviewOptions::default(), ModelView::default()));
        let mut rev = match reviewed {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                // The error names the upload, never the server's copy of it.
                return Err(match e {
                    Error::MissingColumn {
                        column,
                        looked,
                        headers,
                        ..
                    } => Error::MissingColumn {
                        path: file_name.into(),
                        column,
                        looked,
                        headers,
                    },
                    e => Error::Dataset {
                        path: file_name.into(),
                        reason: e.to_string().replace(&path.display().to_string(), "the upload"),
                    },
                });
            }
        };
        rev.path = file_name.to_string();
        let rec = DatasetRecord {
            id,
            name: name.unwrap_or_else(|| file_name.to_string()),
            file,
            text_column: columns.text_column,
            label_column: columns.label_column,
            label_separator: columns.label_separator,
            review: rev,
        };
        write_atomic(&dir.join(RECORD), |w| {
            serde_json::to_writer_pretty(w, &rec).map_err(std::io::Error::other)
        })?;
        // Kept only once the store has it: a worker elsewhere reads it from there.
        if let Err(e) = self.sync_dataset(&rec.id) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok(rec)
    }

    /// A stored dataset by id; ids are UUIDs, so nothing else can name a folder.
    pub fn dataset(&self, id: &str) -> Result<DatasetRecord> {
        let missing = || Error::DatasetNotFound { id: id.into() };
        let uuid = uuid::Uuid::parse_str(id).map_err(|_| missing())?;
        let path = self.datasets_dir().join(uuid.to_string()).join(RECORD);
        if !path.exists() && !self.fetch_dataset(&uuid.to_string())? {
            return Err(missing());
        }
        let mut rec = match crate::encoder::config::read_json::<Stored>(&path)? {
            Stored::Typed(r) => r,
            Stored::Legacy { info, columns, file } => DatasetRecord {
                id: info.id,
                name: info.name,
                file,
                text_column: columns.text,
                label_column: columns.label,
                label_separator: None,
                review: info.review,
            },
        };
        // The folder is the checked id's, whatever the file says.
        rec.id = uuid.to_string();
        Ok(rec)
    }

    /// The stored file of a dataset.
    pub fn dataset_file(&self, rec: &DatasetRecord) -> PathBuf {
        // Only a file name: a record edited by hand cannot point outside its folder.
        let file = std::path::Path::new(&rec.file)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data.csv"));
        self.datasets_dir().join(&rec.id).join(file)
    }
}
