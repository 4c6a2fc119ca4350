//! Saving an encoder as a sentence-transformers folder: the source folder's tokenizer and config
//! files, the sentence-transformers module files, and the current weights as `model.safetensors`.

use std::path::Path;

use super::config::ModuleEntry;
use super::weights::save_safetensors;
use super::Encoder;
use crate::error::{Error, Result};
use crate::util::write_dir_atomic;

/// Files and folders of a source folder that are weights in some format: the new weights replace
/// them all, so none is copied.
const SKIP: &[&str] = &[
    "model.safetensors",
    "pytorch_model.bin",
    "tf_model.h5",
    "flax_model.msgpack",
    "rust_model.ot",
    "model.onnx",
    "onnx",
    "openvino",
    ".git",
    ".gitattributes",
    // The source's model card describes the source, not what is saved.
    "README.md",
];

pub(super) fn save(enc: &Encoder, dest: &Path) -> Result<()> {
    write_dir_atomic(dest, |tmp| {
        copy_tree(enc.dir(), tmp)?;
        let sc = enc.sentence_config();
        if !sc.has_modules {
            let modules = vec![
                ModuleEntry {
                    idx: 0,
                    name: "0".into(),
                    path: "".into(),
                    kind: "sentence_transformers.models.Transformer".into(),
                },
                ModuleEntry {
                    idx: 1,
                    name: "1".into(),
                    path: "1_Pooling".into(),
                    kind: "sentence_transformers.models.Pooling".into(),
                },
            ];
            write_json(&tmp.join("modules.json"), &modules)?;
            let pool_dir = tmp.join("1_Pooling");
            std::fs::create_dir_all(&pool_dir).map_err(|e| Error::io(&pool_dir, e))?;
            write_json(&pool_dir.join("config.json"), &sc.pooling)?;
        }
        if sc.max_seq_length != Some(enc.max_seq_length()) {
            let v = serde_json::json!({"max_seq_length": enc.max_seq_length(), "do_lower_case": false});
            write_json(&tmp.join("sentence_bert_config.json"), &v)?;
        }
        save_safetensors(&enc.tensors(), &tmp.join("model.safetensors"))
    })
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.into(),
        source,
    })?;
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Copies `src` into `dst` recursively, following symlinks (the Hugging Face cache links
/// snapshot files to blobs), and leaving out weight files.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let entries = std::fs::read_dir(src).map_err(|e| Error::io(src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if SKIP.contains(&name_str.as_ref()) || name_str.starts_with(".attune-") {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        if from.is_dir() {
            std::fs::create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
            copy_tree(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
        }
    }
    Ok(())
}
