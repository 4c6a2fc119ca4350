//! A labelled dataset read from a user's file. Rows that cannot be read (bad bytes, a wrong
//! number of fields, invalid JSON, no label) are kept aside with their line numbers, so a review
//! can show every one of them instead of stopping at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::io::texts::{find_column, TextFile};

/// Column names taken as the text column, in order of preference.
pub const TEXT_COLUMNS: &[&str] = &["text", "query", "sentence"];
/// Column names taken as the label column, in order of preference.
pub const LABEL_COLUMNS: &[&str] = &["label", "intent", "category"];

/// One labelled row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub text: String,
    pub label: String,
    /// 1-based line of the file where the row starts.
    pub line: usize,
}

/// A row that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub line: usize,
    pub reason: String,
}

/// Which columns to read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub text_column: Option<String>,
    pub label_column: Option<String>,
}

/// A labelled dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub path: PathBuf,
    /// sha256 of the file's bytes.
    pub sha256: String,
    pub text_column: String,
    pub label_column: String,
    pub examples: Vec<Example>,
    pub bad_rows: Vec<BadRow>,
}

impl Dataset {
    /// Reads `path`; the format follows the extension (`.csv`, `.tsv`, `.jsonl`).
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(Error::input(
                path,
                None,
                "the file is empty; expected a header and labelled rows",
            ));
        }
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
        let mut ds = match TextFile::from_path(path) {
            TextFile::Jsonl => read_jsonl(path, bytes, opts)?,
            TextFile::Csv { delimiter } => read_csv(path, bytes, sniff(bytes, delimiter), opts)?,
            TextFile::Lines => {
                return Err(Error::input(
                    path,
                    None,
                    "unknown file type: use .csv, .tsv or .jsonl (a text and a label per row)",
                ))
            }
        };
        ds.sha256 = sha256;
        if ds.examples.is_empty() {
            let why = ds
                .bad_rows
                .first()
                .map(|b| format!("; first problem at line {}: {}", b.line, b.reason))
                .unwrap_or_default();
            return Err(Error::input(path, None, format!("no labelled rows could be read{why}")));
        }
        Ok(ds)
    }

    /// Builds a dataset from rows in memory (tests, the API).
    pub fn from_examples(path: impl Into<PathBuf>, examples: Vec<Example>) -> Self {
        Dataset {
            path: path.into(),
            sha256: String::new(),
            text_column: "text".into(),
            label_column: "label".into(),
            examples,
            bad_rows: Vec::new(),
        }
    }

    /// Rows per label, by label name.
    pub fn label_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for e in &self.examples {
            *m.entry(e.label.clone()).or_insert(0) += 1;
        }
        m
    }
}

/// A `.csv` whose header has tabs and no commas is tab-separated.
fn sniff(bytes: &[u8], delimiter: u8) -> u8 {
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    if delimiter == b',' && first.contains(&b'\t') && !first.contains(&b',') {
        b'\t'
    } else {
        delimiter
    }
}

fn read_csv(path: &Path, bytes: &[u8], delimiter: u8, opts: &LoadOptions) -> Result<Dataset> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let headers = rdr
        .byte_headers()
        .map_err(|e| Error::input(path, Some(1), format!("cannot read the header: {e}")))?
        .clone();
    let headers: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let ti = find_column(
        path,
        &headers,
        opts.text_column.as_deref(),
        TEXT_COLUMNS,
        "text",
        "--text-column",
    )?;
    let li = find_column(
        path,
        &headers,
        opts.label_column.as_deref(),
        LABEL_COLUMNS,
        "label",
        "--label-column",
    )?;
    let mut ds = Dataset::from_examples(path, Vec::new());
    ds.text_column = headers[ti].clone();
    ds.label_column = headers[li].clone();
    let mut rec = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() as usize;
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                ds.bad_rows.push(BadRow {
                    line,
                    reason: format!("malformed CSV: {e}"),
                });
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line() as usize);
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if rec.len() != headers.len() {
            ds.bad_rows.push(BadRow {
                line,
                reason: format!(
                    "{} fields where the header has {} (quote fields that hold the delimiter)",
                    rec.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let (Ok(text), Ok(label)) = (std::str::from_utf8(&rec[ti]), std::str::from_utf8(&rec[li])) else {
            ds.bad_rows.push(BadRow {
                line,
                reason: "not valid UTF-8 (save the file as UTF-8)".into(),
            });
            continue;
        };
        push(&mut ds, text, label, line);
    }
    Ok(ds)
}

fn push(ds: &mut Dataset, text: &str, label: &str, line: usize) {
    let label = label.trim();
    if label.is_empty() {
        ds.bad_rows.push(BadRow {
            line,
            reason: "no label".into(),
        });
        return;
    }
    ds.examples.push(Example {
        text: text.trim().to_string(),
        label: label.to_string(),
        line,
    });
}

fn read_jsonl(path: &Path, bytes: &[u8], opts: &LoadOptions) -> Result<Dataset> {
    let mut ds = Dataset::from_examples(path, Vec::new());
    let text_keys: Vec<&str> = opts.text_column.as_deref().map_or(TEXT_COLUMNS.to_vec(), |c| vec![c]);
    let label_keys: Vec<&str> = opts.label_column.as_deref().map_or(LABEL_COLUMNS.to_vec(), |c| vec![c]);
    let mut keys_found = false;
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(s) = std::str::from_utf8(raw) else {
            ds.bad_rows.push(BadRow {
                line,
                reason: "not valid UTF-8 (save the file as UTF-8)".into(),
            });
            continue;
        };
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(s) {
            Ok(o) => o,
            Err(e) => {
                ds.bad_rows.push(BadRow {
                    line,
                    reason: format!("not a JSON object: {e}"),
                });
                continue;
            }
        };
        let tk = text_keys.iter().find(|k| obj.contains_key(**k));
        let lk = label_keys.iter().find(|k| obj.contains_key(**k));
        let (Some(tk), Some(lk)) = (tk, lk) else {
            let fields: Vec<&str> = obj.keys().map(String::as_str).collect();
            ds.bad_rows.push(BadRow {
                line,
                reason: format!(
                    "needs a text field ({}) and a label field ({}); has {}",
                    text_keys.join("/"),
                    label_keys.join("/"),
                    fields.join(", ")
                ),
            });
            continue;
        };
        keys_found = true;
        ds.text_column = tk.to_string();
        ds.label_column = lk.to_string();
        let as_str = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        match (as_str(&obj[*tk]), as_str(&obj[*lk])) {
            (Some(t), Some(l)) => push(&mut ds, &t, &l, line),
            _ => ds.bad_rows.push(BadRow {
                line,
                reason: format!("{tk:?} and {lk:?} must be strings or numbers"),
            }),
        }
    }
    if !keys_found {
        if let Some(first) = ds.bad_rows.first() {
            return Err(Error::input(path, Some(first.line), first.reason.clone()));
        }
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, content: &[u8]) -> Result<Dataset> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, content).unwrap();
        Dataset::load(&p, &LoadOptions::default())
    }

    #[test]
    fn finds_columns_by_name_and_trims() {
        let ds = load("a.csv", b"query,intent\n  cheap fare ,atis_airfare\nbus, atis_ground\n").unwrap();
        assert_eq!((ds.text_column.as_str(), ds.label_column.as_str()), ("query", "intent"));
        assert_eq!(ds.examples[0].text, "cheap fare");
        assert_eq!(ds.examples[1].label, "atis_ground");
        assert_eq!(ds.examples[1].line, 3);
        let ds = load("a.csv", b"text\tlabel\nhello\t1\n").unwrap();
        assert_eq!(ds.examples[0].label, "1", "tab-separated .csv and numeric labels");
        let ds = load(
            "a.jsonl",
            b"{\"text\": \"x\", \"label\": 3}\n\n{\"text\": \"y\", \"label\": \"b\"}\n",
        )
        .unwrap();
        assert_eq!(ds.examples.len(), 2);
        assert_eq!(ds.examples[1].line, 3);
    }

    #[test]
    fn bad_rows_are_kept_with_their_lines() {
        let ds = load(
            "a.csv",
            b"text,label\nok,a\ntoo,many,fields\nbad \xff byte,b\nno label,\nfine,b\n",
        )
        .unwrap();
        let lines: Vec<usize> = ds.bad_rows.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{:?}", ds.bad_rows);
        assert_eq!(ds.examples.len(), 2);
        let ds = load("a.jsonl", b"{\"text\": \"a\", \"label\": \"x\"}\n{oops\n").unwrap();
        assert_eq!(ds.bad_rows[0].line, 2);
    }

    #[test]
    fn unusable_files_are_errors() {
        assert!(load("a.csv", b"").unwrap_err().to_string().contains("empty"));
        let e = load("a.csv", b"body,label\nx,y\n").unwrap_err().to_string();
        assert!(e.contains("no text column") && e.contains("line 1"), "{e}");
        let e = load("a.csv", b"text,tag\nx,y\n").unwrap_err().to_string();
        assert!(e.contains("no label column"), "{e}");
        let e = load("a.txt", b"x\n").unwrap_err().to_string();
        assert!(e.contains(".csv, .tsv or .jsonl"), "{e}");
        let e = load("a.jsonl", b"{\"body\": 1}\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("text field"), "{e}");
    }
}
