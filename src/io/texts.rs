//! Texts from a user's file: `.txt` (one text a line), `.csv` / `.tsv` (a text column found by
//! name), `.jsonl` (an object with a text field, or a bare string, per line). Every error names
//! the file and, where there is one, the line.

use std::path::Path;

use crate::error::{Column, Error, Result};

/// Column names taken as the text column when none is given, in order of preference.
pub const TEXT_COLUMNS: &[&str] = &["text", "query", "sentence", "content", "input"];

/// The kinds of text file attune reads, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFile {
    Lines,
    Csv { delimiter: u8 },
    Jsonl,
}

impl TextFile {
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => TextFile::Csv { delimiter: b',' },
            Some("tsv") | Some("tab") => TextFile::Csv { delimiter: b'\t' },
            Some("jsonl") | Some("ndjson") | Some("json") => TextFile::Jsonl,
            _ => TextFile::Lines,
        }
    }
}

/// Reads the file as UTF-8 text, failing with the line of the first bad byte.
pub fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::input(path, None, "the file is empty"));
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s)),
        Err(e) => {
            let upto = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..upto].iter().filter(|b| **b == b'\n').count() + 1;
            Err(Error::input(
                path,
                Some(line),
                format!("not valid UTF-8 (byte offset {upto}); save the file as UTF-8"),
            ))
        }
    }
}

/// Picks the column named `wanted`, or else the first of `candidates` present (case-insensitive).
/// A missing column is [`Error::MissingColumn`]; each face says how to name one.
pub fn find_column(
    path: &Path,
    headers: &[String],
    wanted: Option<&str>,
    candidates: &[&str],
    column: Column,
) -> Result<usize> {
    let lower: Vec<String> = headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let hit = match wanted {
        Some(w) => lower.iter().position(|h| *h == w.trim().to_ascii_lowercase()),
        None => candidates.iter().find_map(|c| lower.iter().position(|h| h == c)),
    };
    hit.ok_or_else(|| Error::MissingColumn {
        path: path.into(),
        column,
        looked: match wanted {
            Some(w) => format!("no column \"{}\"", crate::util::excerpt(w, 60)),
            None => format!(
                "no {} column: looked for {}",
                column.name(),
                candidates
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        headers: crate::util::excerpt_list(headers, 20, 60),
    })
}

/// Reads the texts of `path`; `text_column` names the field for CSV and JSONL files.
pub fn read_texts(path: &Path, text_column: Option<&str>) -> Result<Vec<String>> {
    let content = read_utf8(path)?;
    let texts = match TextFile::from_path(path) {
        TextFile::Lines => content
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
        TextFile::Csv { delimiter } => read_csv(path, &content, delimiter, text_column)?,
        TextFile::Jsonl => read_jsonl(path, &content, text_column)?,
    };
    if texts.is_empty() {
        return Err(Error::input(path, None, "the file holds no texts"));
    }
    Ok(texts)
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    Error::input(path, line, format!("malformed CSV: {e}"))
}

fn read_csv(path: &Path, content: &str, delimiter: u8, column: Option<&str>) -> Result<Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(content.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(String::from)
        .collect();
    let col = find_column(path, &headers, column, TEXT_COLUMNS, Column::Text)?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        out.push(rec.get(col).unwrap_or_default().trim().to_string());
    }
    Ok(out)
}

fn read_jsonl(path: &Path, content: &str, column: Option<&str>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| Error::input(path, Some(line_no), format!("invalid JSON: {e}")))?;
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(map) => {
                let key = match column {
                    Some(c) => map.contains_key(c).then(|| c.to_string()),
                    None => TEXT_COLUMNS
                        .iter()
                        .find(|c| map.contains_key(**c))
                        .map(|c| c.to_string()),
                };
                let key = key.ok_or_else(|| {
                    let fields: Vec<&str> = map.keys().map(String::as_str).collect();
                    Error::input(
                        path,
                        Some(line_no),
                        format!(
                            "no text field ({}); the object has {}. Name it with --text-column",
                            column
                                .map(|c| format!("{c:?}"))
                                .unwrap_or_else(|| TEXT_COLUMNS.join(", ")),
                            fields.join(", ")
                        ),
                    )
                })?;
                match &map[&key] {
                    serde_json::Value::String(s) => s.trim().to_string(),
                    other => {
                        return Err(Error::input(
                            path,
                            Some(line_no),
                            format!("field {key:?} is {other}, not a string"),
                        ))
                    }
                }
            }
            _ => return Err(Error::input(path, Some(line_no), "expected a JSON object or string")),
        };
        out.push(text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(name: &str, content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, content).unwrap();
        (d, p)
    }

    #[test]
    fn reads_each_format() {
        let (_d, p) = file("a.txt", b"one\n\ntwo\r\n");
        assert_eq!(read_texts(&p, None).unwrap(), vec!["one", "two"]);
        let (_d, p) = file("a.csv", b"id,query\n1,\" hello, world \"\n2,bye\n");
        assert_eq!(read_texts(&p, None).unwrap(), vec!["hello, world", "bye"]);
        let (_d, p) = file("a.tsv", b"text\tlabel\nx y\ta\n");
        assert_eq!(read_texts(&p, None).unwrap(), vec!["x y"]);
        let (_d, p) = file("a.jsonl", b"{\"text\": \"hi\"}\n\"bare\"\n{\"body\": \"b\"}\n");
        assert!(read_texts(&p, None).unwrap_err().to_string().contains("line 3"));
        assert!(read_texts(&p, Some("body")).unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let (_d, p) = file("bad.txt", b"ok\nfine\n\xff\xfe bad\n");
        let e = read_texts(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("bad.txt") && e.contains("line 3") && e.contains("UTF-8"),
            "{e}"
        );
        let (_d, p) = file("empty.txt", b"  \n");
        assert!(read_texts(&p, None).unwrap_err().to_string().contains("empty"));
        let (_d, p) = file("cols.csv", b"a,b\n1,2\n");
        let e = read_texts(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("cols.csv") && e.contains("no text column") && e.contains("a, b"),
            "{e}"
        );
        let (_d, p) = file("ragged.csv", b"text,b\n1,2\n3\n");
        let e = read_texts(&p, None).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
