//! A labelled dataset read from a user's file. Rows that cannot be read (bad bytes, a wrong
//! number of fields, invalid JSON, no label) are kept aside with their line numbers, so a review
//! can show every one of them instead of stopping at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Column, Error, Result};
use crate::io::texts::{find_column, TextFile};

/// Column names taken as the text column, in order of preference.
pub const TEXT_COLUMNS: &[&str] = &["text", "query", "sentence"];
/// Column names taken as the label column, in order of preference.
pub const LABEL_COLUMNS: &[&str] = &["label", "intent", "category", "labels"];

/// How a multi-label row with no label ("none of these") is named where one name is needed
/// (maps, review tables).
pub const NO_LABEL: &str = "(none)";

/// One labelled row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    /// The label; for a multi-label row, its set in one name (`a + b`, or [`NO_LABEL`]).
    pub label: String,
    /// The row's labels: one for a single-label row; any number (none included) for a
    /// multi-label row.
    #[serde(default)]
    pub labels: Vec<String>,
    /// 1-based line of the file where the row starts.
    pub line: usize,
}

impl Example {
    /// A single-label row.
    pub fn single(text: impl Into<String>, label: impl Into<String>, line: usize) -> Self {
        let label = label.into();
        Example {
            text: text.into(),
            labels: vec![label.clone()],
            label,
            line,
        }
    }

    /// A multi-label row: its labels sorted and without repeats.
    pub fn multi(text: impl Into<String>, mut labels: Vec<String>, line: usize) -> Self {
        labels.sort();
        labels.dedup();
        Example {
            text: text.into(),
            label: set_name(&labels),
            labels,
            line,
        }
    }
}

/// The one name of a label set.
pub fn set_name(labels: &[String]) -> String {
    if labels.is_empty() {
        NO_LABEL.into()
    } else {
        labels.join(" + ")
    }
}

/// A row that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    pub line: usize,
    pub reason: String,
}

/// Which columns to read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub text_column: Option<String>,
    pub label_column: Option<String>,
    /// Splits a CSV/TSV label cell into several labels (`+`, `|`, `;`): the data is
    /// multi-label. JSONL rows are multi-label when their label field is an array (and their
    /// string labels are split on it too).
    pub label_separator: Option<String>,
    /// A separator that occurs in no label cell is an error (a wrong separator, or single-label
    /// data) unless this is set: a test file's rows may each carry one label.
    pub separator_may_be_absent: bool,
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
    /// Rows carry label sets (see [`Example::labels`]).
    #[serde(default)]
    pub multi_label: bool,
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
            multi_label: false,
        }
    }

    /// Rows per label, by label name (a multi-label row counts for each of its labels).
    pub fn label_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for e in &self.examples {
            for l in &e.labels {
                *m.entry(l.clone()).or_insert(0) += 1;
            }
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

/// 1-based line numbers of byte offsets, counted on `\n` alone so that CRLF and LF files
/// number their lines alike, and a quoted field over several lines counts them all.
struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    fn new(bytes: &[u8]) -> Self {
        Lines {
            newlines: bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    fn of(&self, byte: usize) -> usize {
        self.newlines.partition_point(|&n| n < byte) + 1
    }

    /// The offset just past the line that holds `byte`.
    fn next_line_start(&self, byte: usize, len: usize) -> usize {
        let i = self.newlines.partition_point(|&n| n < byte);
        self.newlines.get(i).map_or(len, |n| n + 1)
    }
}

fn read_csv(path: &Path, bytes: &[u8], delimiter: u8, opts: &LoadOptions) -> Result<Dataset> {
    let builder = || {
        let mut b = csv::ReaderBuilder::new();
        b.delimiter(delimiter).flexible(true);
        b
    };
    let mut rdr = builder().from_reader(bytes);
    let headers = rdr
        .byte_headers()
        .map_err(|e| Error::input(path, Some(1), format!("cannot read the header: {e}")))?
        .clone();
    let headers: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
    let ti = find_column(path, &headers, opts.text_column.as_deref(), TEXT_COLUMNS, Column::Text)?;
    let li = find_column(
        path,
        &headers,
        opts.label_column.as_deref(),
        LABEL_COLUMNS,
        Column::Label,
    )?;
    let mut ds = Dataset::from_examples(path, Vec::new());
    ds.text_column = headers[ti].clone();
    ds.label_column = headers[li].clone();
    let lines = Lines::new(bytes);
    // Rows are read from `start`; after a quote left open the reading starts again on the
    // line after it, so one stray quote loses one row, not the rest of the file.
    let mut start = rdr.position().byte() as usize;
    let sep = opts.label_separator.as_deref().filter(|s| !s.is_empty());
    ds.multi_label = sep.is_some();
    let mut sep_seen = false;
    while start < bytes.len() {
        start = read_rows(
            bytes,
            start,
            &lines,
            builder().has_headers(false),
            Cells {
                ti,
                li,
                width: headers.len(),
                sep,
                sep_seen: &mut sep_seen,
            },
            &mut ds,
        );
    }
    check_separator(path, sep, sep_seen, opts, &ds)?;
    Ok(ds)
}

/// The error for a separator that splits nothing (see [`LoadOptions::separator_may_be_absent`]).
fn check_separator(path: &Path, sep: Option<&str>, seen: bool, opts: &LoadOptions, ds: &Dataset) -> Result<()> {
    if let (Some(sep), false, false) = (sep, seen, opts.separator_may_be_absent) {
        if !ds.examples.is_empty() {
            return Err(Error::input(
                path,
                None,
                format!(
                    "the label separator {sep:?} occurs in no cell of the label column {:?}: give the separator the file uses (--label-separator), or leave it out for single-label data",
                    ds.label_column
                ),
            ));
        }
    }
    Ok(())
}

/// A label cell split on `sep`, or why it is not a label set: a cell that holds only
/// separators is more likely a slip than "none of these".
fn split_cell(cell: &str, sep: &str) -> std::result::Result<Vec<String>, String> {
    let set: Vec<String> = cell
        .split(sep)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if set.is_empty() && !cell.trim().is_empty() {
        return Err(format!(
            "the label cell {:?} holds only the separator {sep:?}: leave it empty for a row with no label",
            crate::util::excerpt(cell, 40)
        ));
    }
    Ok(set)
}

/// Where a row's cells are, and how its label cell splits.
struct Cells<'a> {
    ti: usize,
    li: usize,
    width: usize,
    sep: Option<&'a str>,
    sep_seen: &'a mut bool,
}

/// Reads rows from `start` to the end, or up to a quote left open; returns where to go on.
fn read_rows(
    bytes: &[u8],
    start: usize,
    lines: &Lines,
    builder: &csv::ReaderBuilder,
    cells: Cells,
    ds: &mut Dataset,
) -> usize {
    let Cells {
        ti,
        li,
        width,
        sep,
        sep_seen,
    } = cells;
    let mut rdr = builder.from_reader(&bytes[start..]);
    let mut rec = csv::ByteRecord::new();
    loop {
        let at = start + rdr.position().byte() as usize;
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return bytes.len(),
            Ok(true) => {}
            Err(e) => {
                let byte = e.position().map_or(at, |p| start + p.byte() as usize);
                ds.bad_rows.push(BadRow {
                    line: lines.of(byte),
                    reason: format!("malformed CSV: {e}"),
                });
                continue;
            }
        }
        let mut begin = rec.position().map_or(at, |p| start + p.byte() as usize);
        // The reader's record position can sit on the line ending before the row (CRLF files
        // ended the header at its "\r"): the row begins after it.
        while begin < bytes.len() && matches!(bytes[begin], b'\r' | b'\n') {
            begin += 1;
        }
        let end = start + rdr.position().byte() as usize;
        let (line, last) = (lines.of(begin), lines.of(end.saturating_sub(1).max(begin)));
        if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let multiline = last > line;
        if multiline && (rec.len() != width || rec[li].contains(&b'\n')) && bytes[begin..end].contains(&b'"') {
            ds.bad_rows.push(BadRow {
                line,
                reason: format!(
                    "a quote opened on this line is not closed until line {last}, so lines {line}-{last} read as one row: close the quote, or write a quote inside a quoted field as two (\"\")"
                ),
            });
            return lines.next_line_start(begin, bytes.len());
        }
        if rec.len() != width {
            ds.bad_rows.push(BadRow {
                line,
                reason: format!(
                    "{} fields where the header has {width} (quote fields that hold the delimiter)",
                    rec.len(),
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
        match sep {
            Some(sep) => {
                *sep_seen |= label.contains(sep);
                match split_cell(label, sep) {
                    Ok(set) => ds.examples.push(Example::multi(text.trim(), set, line)),
                    Err(reason) => ds.bad_rows.push(BadRow { line, reason }),
                }
            }
            None => push(ds, text, label, line),
        }
    }
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
    ds.examples.push(Example::single(text.trim(), label, line));
}

/// A JSON label array as a label set, or why it is not one.
fn json_set(v: &[serde_json::Value]) -> std::result::Result<Vec<String>, String> {
    v.iter()
        .map(|l| match l {
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(format!(
                "a label set holds {other}: each label must be a non-empty string or a number"
            )),
        })
        .collect()
}

fn read_jsonl(path: &Path, bytes: &[u8], opts: &LoadOptions) -> Result<Dataset> {
    let mut ds = Dataset::from_examples(path, Vec::new());
    let text_keys: Vec<&str> = opts.text_column.as_deref().map_or(TEXT_COLUMNS.to_vec(), |c| vec![c]);
    let label_keys: Vec<&str> = opts.label_column.as_deref().map_or(LABEL_COLUMNS.to_vec(), |c| vec![c]);
    let mut keys_found = false;
    let sep = opts.label_separator.as_deref().filter(|s| !s.is_empty());
    ds.multi_label = sep.is_some();
    let (mut sep_seen, mut arrays) = (false, false);
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
        match (as_str(&obj[*tk]), &obj[*lk]) {
            (Some(t), serde_json::Value::Array(set)) => match json_set(set) {
                Ok(set) => {
                    ds.multi_label = true;
                    arrays = true;
                    ds.examples.push(Example::multi(t.trim(), set, line));
                }
                Err(reason) => ds.bad_rows.push(BadRow { line, reason }),
            },
            (Some(t), l) => match (as_str(l), sep) {
                (Some(l), Some(sep)) => {
                    sep_seen |= l.contains(sep);
                    match split_cell(&l, sep) {
                        Ok(set) => ds.examples.push(Example::multi(t.trim(), set, line)),
                        Err(reason) => ds.bad_rows.push(BadRow { line, reason }),
                    }
                }
                (Some(l), None) => push(&mut ds, &t, &l, line),
                (None, _) => ds.bad_rows.push(BadRow {
                    line,
                    reason: format!("{tk:?} must be a string and {lk:?} a string, a number or an array of labels"),
                }),
            },
            _ => ds.bad_rows.push(BadRow {
                line,
                reason: format!("{tk:?} must be a string and {lk:?} a string, a number or an array of labels"),
            }),
        }
    }
    if !keys_found {
        if let Some(first) = ds.bad_rows.first() {
            return Err(Error::input(path, Some(first.line), first.reason.clone()));
        }
    }
    // Label arrays split the file already: the separator only has to split something when
    // every row has a string label.
    check_separator(path, sep, sep_seen || arrays, opts, &ds)?;
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

    fn load_sep(name: &str, content: &[u8], sep: &str) -> Result<Dataset> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, content).unwrap();
        let opts = LoadOptions {
            label_separator: Some(sep.into()),
            ..Default::default()
        };
        Dataset::load(&p, &opts)
    }

    #[test]
    fn label_separators_split_sets_and_allow_empty_ones() {
        let ds = load_sep("a.csv", b"text,labels\nx,b+a\ny, a + a \nz,\n", "+").unwrap();
        assert!(ds.multi_label);
        let sets: Vec<Vec<String>> = ds.examples.iter().map(|e| e.labels.clone()).collect();
        assert_eq!(sets, vec![vec!["a".to_string(), "b".into()], vec!["a".into()], vec![]]);
        assert_eq!(ds.examples[0].label, "a + b");
        assert_eq!(ds.examples[2].label, NO_LABEL, "an empty cell is the empty set");
        assert_eq!(ds.label_counts().get("a"), Some(&2));
        let ds = load_sep("a.tsv", b"text\tlabel\nx\ta|b|c\n", "|").unwrap();
        assert_eq!(ds.examples[0].labels.len(), 3);
        let e = load_sep("a.csv", b"text,label\nx,a\ny,b\n", ";")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("occurs in no cell") && e.contains("--label-separator"),
            "{e}"
        );
    }

    #[test]
    fn separator_slips_are_named_and_test_files_may_lack_the_separator() {
        let ds = load_sep("a.csv", b"text,labels\nx,a+b\ny, + \nz,\n", "+").unwrap();
        assert_eq!(ds.examples.len(), 2);
        assert_eq!(ds.bad_rows[0].line, 3);
        assert!(
            ds.bad_rows[0].reason.contains("only the separator"),
            "{:?}",
            ds.bad_rows
        );
        let ds = load_sep("a.jsonl", b"{\"text\": \"x\", \"label\": \"a;b\"}\n", ";").unwrap();
        assert_eq!(ds.examples[0].labels, vec!["a".to_string(), "b".into()]);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        std::fs::write(&p, "text,label\nx,a\n").unwrap();
        let opts = LoadOptions {
            label_separator: Some("+".into()),
            separator_may_be_absent: true,
            ..Default::default()
        };
        let ds = Dataset::load(&p, &opts).unwrap();
        assert!(ds.multi_label && ds.examples[0].labels == vec!["a".to_string()]);
    }

    #[test]
    fn jsonl_label_arrays_are_multi_label() {
        let ds = load(
            "a.jsonl",
            b"{\"text\": \"x\", \"labels\": [\"joy\", \"love\"]}\n{\"text\": \"y\", \"labels\": []}\n{\"text\": \"z\", \"labels\": [1, {}]}\n",
        )
        .unwrap();
        assert!(ds.multi_label);
        assert_eq!(ds.examples.len(), 2);
        assert_eq!(ds.examples[0].labels, vec!["joy".to_string(), "love".into()]);
        assert!(ds.examples[1].labels.is_empty());
        assert_eq!(ds.bad_rows[0].line, 3);
        assert!(ds.bad_rows[0].reason.contains("label set"), "{:?}", ds.bad_rows);
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
    fn crlf_files_number_their_lines_like_lf_files() {
        let lf = load(
            "a.csv",
            b"text,label\nok,a\ntoo,many,fields\n\"two\nlines\",b\nlast,b\n",
        )
        .unwrap();
        let crlf = load(
            "a.csv",
            b"text,label\r\nok,a\r\ntoo,many,fields\r\n\"two\r\nlines\",b\r\nlast,b\r\n",
        )
        .unwrap();
        for ds in [&lf, &crlf] {
            let lines: Vec<usize> = ds.examples.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![2, 4, 6], "{:?}", ds.examples);
            assert_eq!(ds.bad_rows[0].line, 3);
        }
    }

    #[test]
    fn a_quote_left_open_costs_its_row_only_and_is_named() {
        let mut csv = String::from("text,label\n");
        for i in 2..=11 {
            csv.push_str(&format!("row {i},a\n"));
        }
        csv.push_str("\"broken row,b\nrow 13,b\nrow 14,a\n");
        let ds = load("a.csv", csv.as_bytes()).unwrap();
        let lines: Vec<usize> = ds.examples.iter().map(|e| e.line).collect();
        assert!(lines.contains(&13) && lines.contains(&14), "{lines:?}");
        assert_eq!(ds.bad_rows.len(), 1, "{:?}", ds.bad_rows);
        assert_eq!(ds.bad_rows[0].line, 12);
        assert!(
            ds.bad_rows[0].reason.contains("quote opened on this line"),
            "{:?}",
            ds.bad_rows[0]
        );
    }

    #[test]
    fn a_huge_or_binary_header_gives_a_short_printable_error() {
        let mut header = "x".repeat(5_000_000);
        header.push_str(",\u{1b}[31mred\u{7},y\n");
        let e = load("a.csv", format!("{header}a,b,c\n").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.len() < 2_000, "{} bytes", e.len());
        assert!(!e.chars().any(|c| c.is_control() && c != '\n'), "{e:?}");
        assert!(e.contains("Name the text column"), "{e}");
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
