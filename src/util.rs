//! Atomic file and folder writes: a crash or a full disk never leaves a half-written file where
//! the user expects a whole one.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `path` by writing a temporary file beside it and renaming it into place.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let dir = parent_dir(path);
    let mut tmp = builder(0o666).tempfile_in(dir).map_err(|e| Error::io(path, e))?;
    {
        let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut buf).map_err(|e| Error::io(path, e))?;
        buf.flush().map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Builds a folder at `dest` by filling a temporary sibling folder and renaming it into place.
/// An existing `dest` is replaced only once the new one is complete.
pub fn write_dir_atomic(dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = parent_dir(dest);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = builder(0o777).tempdir_in(parent).map_err(|e| Error::io(parent, e))?;
    fill(tmp.path())?;
    let tmp = tmp.keep();
    if dest.exists() {
        // Swap in two renames so that a crash leaves either the old or the new folder whole.
        let old = parent.join(format!(
            ".attune-old-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("model")
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dest, &old).map_err(|e| Error::io(dest, e))?;
        std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&tmp, dest).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            Error::io(dest, e)
        })?;
    }
    Ok(())
}

/// A piece of user data fit for a message: control characters escaped (a terminal shows no
/// raw escape codes) and cut at `max` characters with how many more there were.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push_str(&format!("... ({} more characters)", s.chars().count() - max));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max_items` items, each an [`excerpt`], then "and N more".
pub fn excerpt_list(items: &[impl AsRef<str>], max_items: usize, max_chars: usize) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(max_items)
        .map(|i| excerpt(i.as_ref(), max_chars))
        .collect();
    if items.len() > max_items {
        shown.push(format!("and {} more", items.len() - max_items));
    }
    shown.join(", ")
}

/// Temporary files and folders get the modes any new file or folder gets (`mode` less the
/// umask), not tempfile's private 0600/0700: a model folder is as readable as the user's other
/// files.
fn builder(mode: u32) -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(".attune-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    b
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_replaces_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, |w| w.write_all(b"one")).unwrap();
        write_atomic(&p, |w| w.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_and_folders_get_the_umask_modes_not_private_ones() {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: umask only changes this process's mask for new files; read and restored.
        let old = unsafe { libc::umask(0o022) };
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        write_atomic(&f, |w| w.write_all(b"{}")).unwrap();
        let d = dir.path().join("m");
        write_dir_atomic(&d, |p| std::fs::write(p.join("x"), "1").map_err(|e| Error::io(p, e))).unwrap();
        unsafe { libc::umask(old) };
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&f), 0o644);
        assert_eq!(mode(&d), 0o755);
    }

    #[test]
    fn failed_fill_leaves_old_folder() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m");
        write_dir_atomic(&dest, |d| std::fs::write(d.join("x"), "1").map_err(|e| Error::io(d, e))).unwrap();
        let err = write_dir_atomic(&dest, |_| Err(Error::InvalidArgument("boom".into())));
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(dest.join("x")).unwrap(), "1");
        write_dir_atomic(&dest, |d| std::fs::write(d.join("y"), "2").map_err(|e| Error::io(d, e))).unwrap();
        assert!(!dest.join("x").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
