//! Who owns a run. A process that trains a run holds a lease on its row (owner id, expiry) and
//! renews it while it works; a run is taken over only once its lease has expired, so a CLI run
//! and a server on one `ATTUNE_HOME` never train the same run. The lease lives in the row, with
//! no lock files or in-process state, so the same scheme serves a database shared by machines.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension};

use super::{db_err, Registry, Status};
use crate::error::{Error, Result};
use crate::train::Control;

/// How long a lease lasts unless renewed: `ATTUNE_LEASE_SECONDS`, default 30. A run whose owner
/// died is resumed by another process this long after the owner's last heartbeat.
pub fn lease_seconds() -> u64 {
    std::env::var("ATTUNE_LEASE_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(30)
}

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(super) fn expiry() -> i64 {
    now_ms() + lease_seconds() as i64 * 1000
}

fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().replace(':', "_"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

/// This process's owner id: `host:pid:nonce` (a later process with the same pid is another
/// owner).
pub fn owner_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        format!("{}:{}:{}", host(), std::process::id(), &nonce[..8])
    })
}

/// Whether `owner` is a process of this machine that is gone (killed, crashed): its run can be
/// taken over at once instead of at the lease's end. Owners on other machines, or a process
/// that may still live, are left to their lease.
fn owner_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != self::host() {
        return false;
    }
    if pid == std::process::id() {
        // Our pid with another nonce: an earlier process that had our pid is gone.
        return owner != owner_id();
    }
    !process_alive(pid)
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    // SAFETY: signal 0 only checks whether the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The lease is ours for another term.
    Held,
    /// Someone asked for the run to stop.
    CancelRequested,
    /// The lease is no longer ours (it expired and another process took the run, or the run
    /// was removed): stop without writing anything more.
    Lost,
}

impl Registry {
    /// Takes a run for `owner`: a queued run, or one whose lease has expired (its owner died or
    /// stopped), or one `owner` already holds. A live lease of another process is
    /// [`Error::Leased`].
    pub fn claim(&self, id: &str, owner: &str) -> Result<()> {
        let current = self
            .get_any(id)?
            .ok_or_else(|| Error::NotInRegistry { id: id.into() })?;
        let dead = current.owner.filter(|o| owner_is_dead(o));
        let n = self
            .conn
            .execute(
                "UPDATE models SET status = 'FINETUNING', error = NULL, owner = ?2, lease_expires = ?3,
                     cancel_requested = 0
                 WHERE id = ?1 AND status != 'READY'
                   AND (owner IS NULL OR owner = ?2 OR lease_expires IS NULL OR lease_expires <= ?4
                        OR owner = ?5)",
                params![id, owner, expiry(), now_ms(), dead],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        if n == 1 {
            return Ok(());
        }
        match self.get_any(id)? {
            None => Err(Error::NotInRegistry { id: id.into() }),
            Some(r) if r.status == Status::Ready => Err(Error::ModelState {
                id: id.into(),
                reason: "is already complete; nothing to resume".into(),
            }),
            Some(r) => Err(Error::Leased {
                id: id.into(),
                owner: r.owner.unwrap_or_default(),
            }),
        }
    }

    /// Extends `owner`'s lease on a run.
    pub fn renew(&self, id: &str, owner: &str) -> Result<Renewal> {
        let n = self
            .conn
            .execute(
                "UPDATE models SET lease_expires = ?3 WHERE id = ?1 AND owner = ?2 AND status = 'FINETUNING'",
                params![id, owner, expiry()],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        if n == 0 {
            return Ok(Renewal::Lost);
        }
        let cancel: Option<i64> = self
            .conn
            .query_row("SELECT cancel_requested FROM models WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(if cancel.unwrap_or(0) != 0 {
            Renewal::CancelRequested
        } else {
            Renewal::Held
        })
    }

    /// Gives a stopped run's lease up at once (a graceful stop): the next process may resume it
    /// without waiting for the lease to expire.
    pub fn release(&self, id: &str, owner: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE models SET owner = NULL, lease_expires = NULL WHERE id = ?1 AND owner = ?2",
                params![id, owner],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(())
    }

    /// Marks a run `owner` stopped on request as `CANCELLED`, its checkpoint kept.
    pub fn cancelled(&self, id: &str, owner: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE models SET status = 'CANCELLED', owner = NULL, lease_expires = NULL, cancel_requested = 0
                 WHERE id = ?1 AND owner = ?2",
                params![id, owner],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(())
    }

    /// Asks for a run to stop. A queued run, or one whose lease expired, is `CANCELLED` at once
    /// (returns `true`); a run a live process trains is flagged, and its owner stops at its next
    /// step and marks it `CANCELLED` (returns `false`).
    pub fn request_cancel(&self, id: &str) -> Result<bool> {
        let now = now_ms();
        let at_once = self
            .conn
            .execute(
                "UPDATE models SET status = 'CANCELLED', owner = NULL, lease_expires = NULL
                 WHERE id = ?1 AND (status = 'QUEUED'
                   OR (status = 'FINETUNING' AND (lease_expires IS NULL OR lease_expires <= ?2)))",
                params![id, now],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        if at_once == 1 {
            return Ok(true);
        }
        self.conn
            .execute(
                "UPDATE models SET cancel_requested = 1 WHERE id = ?1 AND status = 'FINETUNING'",
                [id],
            )
            .map_err(|e| db_err(&self.db_path(), e))?;
        Ok(false)
    }

    /// Runs in training whose owner is gone: the lease expired, or the owner is a dead process
    /// of this machine. A job runner may resume them.
    pub fn abandoned(&self) -> Result<Vec<super::ModelRecord>> {
        let now = now_ms();
        Ok(self
            .list(true)?
            .into_iter()
            .filter(|r| {
                r.status == Status::Finetuning
                    && (r.lease_expires.is_none_or(|t| t <= now) || r.owner.as_deref().is_some_and(owner_is_dead))
            })
            .collect())
    }
}

/// Renews a run's lease on a thread of its own while the run works. A cancellation request or
/// a lost lease stops the run through its [`Control`]; dropping the heartbeat stops it.
pub struct Heartbeat {
    stop: Arc<AtomicBool>,
    cancelled: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    pub fn start(home: &Path, id: &str, owner: &str, control: Control) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let cancelled = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        let (s, c, l) = (stop.clone(), cancelled.clone(), lost.clone());
        let (home, id, owner) = (home.to_path_buf(), id.to_string(), owner.to_string());
        let thread = std::thread::Builder::new()
            .name("attune-lease".into())
            .spawn(move || beat(home, id, owner, control, s, c, l))
            .ok();
        Heartbeat {
            stop,
            cancelled,
            lost,
            thread,
        }
    }

    /// A cancellation stopped the run.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// The lease was lost: the run must write nothing more.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn beat(
    home: PathBuf,
    id: String,
    owner: String,
    control: Control,
    stop: Arc<AtomicBool>,
    cancelled: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
) {
    // At least three renewals a term, so one missed (a busy disk) does not lose the lease; and
    // every 2 s at most apart, so a cancellation is seen within 2 s.
    let every = Duration::from_millis((lease_seconds() * 1000 / 3).min(2000));
    let mut last = Instant::now();
    let reg = Registry::open(&home);
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let Ok(reg) = &reg else { continue };
        match reg.renew(&id, &owner) {
            Ok(Renewal::Held) => {}
            Ok(Renewal::CancelRequested) => {
                cancelled.store(true, Ordering::SeqCst);
                control.request_stop();
            }
            Ok(Renewal::Lost) => {
                lost.store(true, Ordering::SeqCst);
                control.request_stop();
                return;
            }
            // A failed renewal (a locked database) is tried again; the term allows for it.
            Err(e) => eprintln!("attune: run {id}: renewing its lease: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(reg: &Registry, owner: &str) -> String {
        reg.begin(None, "base", "abc", &serde_json::json!({}), owner).unwrap()
    }

    #[test]
    fn a_live_lease_keeps_others_out_until_it_expires() {
        let home = tempfile::tempdir().unwrap();
        let reg = Registry::open(home.path()).unwrap();
        // An owner on another machine: only its lease says whether it lives.
        let id = run(&reg, "elsewhere:1:abcdef12");
        assert!(matches!(reg.claim(&id, owner_id()), Err(Error::Leased { .. })));
        assert!(reg.abandoned().unwrap().is_empty());
        assert_eq!(reg.renew(&id, owner_id()).unwrap(), Renewal::Lost, "not ours to renew");
        reg.fail(&id, Some(owner_id()), "not ours to fail").unwrap();
        assert_eq!(reg.get_any(&id).unwrap().unwrap().status, Status::Finetuning);
        assert!(matches!(reg.remove(&id), Err(Error::Leased { .. })), "nor to remove");
        reg.conn
            .execute("UPDATE models SET lease_expires = 0 WHERE id = ?1", [&id])
            .unwrap();
        assert_eq!(reg.abandoned().unwrap().len(), 1);
        reg.claim(&id, owner_id()).unwrap();
        assert_eq!(reg.renew(&id, owner_id()).unwrap(), Renewal::Held);
        assert_eq!(
            reg.renew(&id, "elsewhere:1:abcdef12").unwrap(),
            Renewal::Lost,
            "the old owner learns it lost the run"
        );
    }

    #[test]
    fn a_dead_local_owner_is_taken_over_at_once_and_cancellation_is_seen() {
        let home = tempfile::tempdir().unwrap();
        let reg = Registry::open(home.path()).unwrap();
        // A pid of this machine that no process has (above the kernel's pid limit).
        let dead = format!("{}:{}:deadbeef", host(), 99_999_999);
        let id = run(&reg, &dead);
        assert_eq!(reg.abandoned().unwrap().len(), 1);
        reg.claim(&id, owner_id()).unwrap();
        assert!(!reg.request_cancel(&id).unwrap(), "a live run is flagged, not stopped");
        assert_eq!(reg.renew(&id, owner_id()).unwrap(), Renewal::CancelRequested);
        reg.cancelled(&id, owner_id()).unwrap();
        assert_eq!(reg.get_any(&id).unwrap().unwrap().status, Status::Cancelled);
        // A queued run is cancelled at once.
        let q = reg.enqueue(None, "base", "abc", &serde_json::json!({})).unwrap();
        assert!(reg.request_cancel(&q).unwrap());
        assert_eq!(reg.get_any(&q).unwrap().unwrap().status, Status::Cancelled);
    }
}
