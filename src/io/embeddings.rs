//! Writing embeddings: JSONL (`{"text", "embedding"}` per line), CSV (`text,e0,e1,...`) or
//! NumPy `.npy` (a float32 matrix, one row per text), always in input order.

use std::io::Write;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Jsonl,
    Csv,
    Npy,
}

impl OutputFormat {
    /// The format an output path's extension implies.
    pub fn from_extension(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
            "csv" => Some(OutputFormat::Csv),
            "npy" => Some(OutputFormat::Npy),
            _ => None,
        }
    }
}

/// Writes `embeddings` (one row per text, equal lengths) in `format`.
pub fn write_embeddings(
    w: &mut dyn Write,
    format: OutputFormat,
    texts: &[&str],
    embeddings: &[Vec<f32>],
) -> std::io::Result<()> {
    match format {
        OutputFormat::Jsonl => {
            #[derive(serde::Serialize)]
            struct Row<'a> {
                text: &'a str,
                embedding: &'a [f32],
            }
            for (text, e) in texts.iter().zip(embeddings) {
                serde_json::to_writer(&mut *w, &Row { text, embedding: e })?;
                w.write_all(b"\n")?;
            }
            Ok(())
        }
        OutputFormat::Csv => {
            let mut c = csv::Writer::from_writer(w);
            let dim = embeddings.first().map_or(0, Vec::len);
            let mut header = vec!["text".to_string()];
            header.extend((0..dim).map(|i| format!("e{i}")));
            c.write_record(&header)?;
            for (text, e) in texts.iter().zip(embeddings) {
                let mut rec = vec![text.to_string()];
                rec.extend(e.iter().map(|v| v.to_string()));
                c.write_record(&rec)?;
            }
            c.flush()
        }
        OutputFormat::Npy => write_npy(w, embeddings),
    }
}

/// NumPy format 1.0: magic, header length, a Python-dict header padded to 64 bytes, then
/// little-endian f32 data in C order.
fn write_npy(w: &mut dyn Write, rows: &[Vec<f32>]) -> std::io::Result<()> {
    let dim = rows.first().map_or(0, Vec::len);
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        rows.len(),
        dim
    );
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&(header.len() as u16).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    for row in rows {
        for v in row {
            w.write_all(&v.to_le_bytes())?;
        }
    }
    Ok(())
}

/// Checks that every row has the same length, so the formats above are well-formed.
pub fn check_rectangular(embeddings: &[Vec<f32>]) -> Result<()> {
    let dim = embeddings.first().map_or(0, Vec::len);
    if embeddings.iter().any(|e| e.len() != dim) {
        return Err(Error::Internal("embeddings of different lengths".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned() {
        let mut buf = Vec::new();
        write_npy(&mut buf, &[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]).unwrap();
        let hlen = u16::from_le_bytes([buf[8], buf[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert!(std::str::from_utf8(&buf[10..10 + hlen])
            .unwrap()
            .contains("'shape': (3, 2)"));
        assert_eq!(buf.len(), 10 + hlen + 6 * 4);
        assert_eq!(f32::from_le_bytes(buf[10 + hlen..14 + hlen].try_into().unwrap()), 1.0);
    }

    #[test]
    fn csv_and_jsonl() {
        let mut buf = Vec::new();
        write_embeddings(&mut buf, OutputFormat::Csv, &["a, b"], &[vec![0.5, -1.0]]).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "text,e0,e1\n\"a, b\",0.5,-1\n");
        let mut buf = Vec::new();
        write_embeddings(&mut buf, OutputFormat::Jsonl, &["x"], &[vec![0.25]]).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"text\":\"x\",\"embedding\":[0.25]}\n"
        );
    }
}
