//! mimalloc's settings, for the processes that use it as their allocator (the `attune` binary
//! and the benchmarks); in any other process they change nothing.
//!
//! A training step or an embedding batch frees hundreds of megabytes of temporaries and then
//! allocates them again. mimalloc returns freed pages to the kernel after `purge_delay` (1 s by
//! default, times 10 for arenas), so many of them came back as fresh pages that the kernel zeroes
//! on first touch: 47,000-62,000 page faults in a 12-step training benchmark and 19-22 % of its
//! CPU samples in `clear_page_erms`. Kept mapped for 10 s, the same run took 900-5,000 faults and
//! its steps about 9 % less time; an idle server still hands its memory back after that.

#[cfg(test)]
use libmimalloc_sys::mi_option_get;
use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3 headers); the Rust bindings
/// do not name it. A test checks the number against the option's environment variable.
const PURGE_DELAY: mi_option_t = 15;

/// How long freed memory stays mapped before mimalloc returns it to the kernel.
const PURGE_DELAY_MS: i64 = 10_000;

/// Keeps freed memory mapped for [`PURGE_DELAY_MS`] unless `MIMALLOC_PURGE_DELAY` is set (the
/// user's choice wins).
pub(crate) fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: options are process-wide values that mimalloc reads atomically; setting one
        // at any time is allowed.
        unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _) };
    }
}

/// The purge delay mimalloc uses now, in milliseconds.
#[cfg(test)]
pub(crate) fn purge_delay_ms() -> i64 {
    // SAFETY: reading an option has no preconditions.
    unsafe { mi_option_get(PURGE_DELAY) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run in a child process with `MIMALLOC_PURGE_DELAY` set, so the environment is read fresh.
    #[test]
    fn option_number_is_the_purge_delay() {
        if let Ok(v) = std::env::var("ATTUNE_PURGE_DELAY_CHILD") {
            assert_eq!(
                purge_delay_ms(),
                v.parse::<i64>().unwrap(),
                "option 15 is not MIMALLOC_PURGE_DELAY"
            );
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args([
                "--exact",
                "alloc::tests::option_number_is_the_purge_delay",
                "--test-threads",
                "1",
            ])
            .env("ATTUNE_PURGE_DELAY_CHILD", "4321")
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
    }

    #[test]
    fn keep_freed_memory_sets_the_delay_unless_the_user_did() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        keep_freed_memory();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
