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
        write_module_files(enc, tmp)?;
        portable_tokenizer_config(&tmp.join("tokenizer_config.json"))?;
        save_safetensors(&enc.tensors(), &tmp.join("model.safetensors"))
    })
}

/// Writes the sentence-transformers files in the form every version reads: module types under
/// `sentence_transformers.models`, the pooling modes as 2.x-5.x booleans (6.x converts them),
/// and the token limit in `sentence_bert_config.json` (where 2.x-5.x look; 6.x reads it too).
/// A folder written by 6.x is thereby saved in a form 5.x also loads.
fn write_module_files(enc: &Encoder, tmp: &Path) -> Result<()> {
    let sc = enc.sentence_config();
    let module = |idx: usize, path: &str, kind: &str| ModuleEntry {
        idx,
        name: idx.to_string(),
        path: path.into(),
        kind: format!("sentence_transformers.models.{kind}"),
    };
    let mut modules = vec![module(0, "", "Transformer"), module(1, "1_Pooling", "Pooling")];
    if sc.normalize {
        modules.push(module(2, "2_Normalize", "Normalize"));
        let dir = tmp.join("2_Normalize");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    write_json(&tmp.join("modules.json"), &modules)?;
    let pool_dir = tmp.join("1_Pooling");
    std::fs::create_dir_all(&pool_dir).map_err(|e| Error::io(&pool_dir, e))?;
    write_json(&pool_dir.join("config.json"), &sc.pooling)?;
    let v = serde_json::json!({"max_seq_length": enc.max_seq_length(), "do_lower_case": sc.lowercase});
    write_json(&tmp.join("sentence_bert_config.json"), &v)
}

/// transformers 5 writes two things into `tokenizer_config.json` that transformers 4 (under
/// sentence-transformers 5.x and older) cannot load: the class name `TokenizersBackend` and
/// `extra_special_tokens` as a list. Both are rewritten into what either reads: the generic fast
/// tokenizer class, and the list left out (its tokens are the named special tokens already).
/// The file is someone else's format, so it is edited as JSON, keeping every other key.
fn portable_tokenizer_config(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let Ok(serde_json::Value::Object(mut cfg)) = serde_json::from_str(&text) else {
        return Ok(());
    };
    let mut changed = false;
    if cfg.get("tokenizer_class").and_then(|c| c.as_str()) == Some("TokenizersBackend") {
        cfg.insert("tokenizer_class".into(), "PreTrainedTokenizerFast".into());
        changed = true;
    }
    if cfg.get("extra_special_tokens").is_some_and(|v| v.is_array()) {
        cfg.remove("extra_special_tokens");
        changed = true;
    }
    if changed {
        write_json(path, &cfg)?;
    }
    Ok(())
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
