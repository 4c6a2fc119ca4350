//! Who owns a run. A process that trains a run holds a lease on its row (owner id, expiry) and
//! renews it while it works; a run is taken over only once its lease has expired, so a CLI run
//! and a server on one `ATTUNE_HOME` never train the same run. The lease lives in the row, with
//! no lock files or in-process state, so the same scheme serves a database shared by machines.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Registry, Status};
use crate::error::{Error, Result};
use crate::sql_params as params;
use crate::train::Control;

/// How long a lease lasts unless renewed: `ATTUNE_LEASE_SECONDS`, default 30. A run whose owner
/// died is resumed by another process this long after the owner's last heartbeat.
pub fn lease_seconds() -> u64 {
    std::env::var("ATTUNE_LEASE_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(|s| s.min(86_400))
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

/// Where a pid means the same process as here: this boot of the kernel and this pid
/// namespace (containers that share a host name do not share pids). Empty where it cannot be
/// told, and then no owner is ever judged dead by its pid.
fn pid_scope() -> &'static str {
    static SCOPE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SCOPE.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        let ns = std::fs::read_link("/proc/self/ns/pid")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if boot.trim().is_empty() || ns.is_empty() {
            return String::new();
        }
        let digits: String = ns.chars().filter(char::is_ascii_digit).collect();
        format!("{}-{digits}", boot.trim().replace('-', "").get(..12).unwrap_or(""))
    })
}

/// This process's owner id: `host:pid:nonce:scope` (a later process with the same pid is
/// another owner; `scope` is [`pid_scope`]).
pub fn owner_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        format!("{}:{}:{}:{}", host(), std::process::id(), &nonce[..8], pid_scope())
    })
}

/// Whether `owner` is a process of this machine that is gone (killed, crashed): its run can be
/// taken over at once instead of at the lease's end. Owners on other machines, or a process
/// that may still live, are left to their lease.
pub(super) fn owner_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(4, ':');
    let (Some(scope), Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != self::host() || scope.is_empty() || scope != pid_scope() {
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
    ///
    /// A job runner takes only queued runs and runs in training whose owner is gone
    /// (`explicit` false); a user's `--resume` (`explicit` true) also continues a failed or
    /// cancelled run.
    pub fn claim(&self, id: &str, owner: &str, explicit: bool) -> Result<()> {
        let current = self
            .get_any(id)?
            .ok_or_else(|| Error::NotInRegistry { id: id.into() })?;
        let dead = current.owner.filter(|o| owner_is_dead(o));
        let n = self.db().execute(
            "UPDATE models SET status = 'FINETUNING', error = NULL, owner = ?2, lease_expires = ?3,
                 cancel_requested = 0
             WHERE id = ?1 AND status != 'READY'
               AND (?6 = 1 OR status IN ('QUEUED', 'FINETUNING'))
               AND (owner IS NULL OR owner = ?2 OR lease_expires IS NULL OR lease_expires <= ?4
                    OR owner = ?5)",
            params![id, owner, expiry(), now_ms(), dead, explicit],
        )?;
        if n == 1 {
            return Ok(());
        }
        match self.get_any(id)? {
            None => Err(Error::NotInRegistry { id: id.into() }),
            Some(r) if r.status == Status::Ready => Err(Error::ModelState {
                id: id.into(),
                reason: "is already complete; nothing to resume".into(),
            }),
            Some(r) if !explicit && matches!(r.status, Status::Failed | Status::Cancelled) => Err(Error::ModelState {
                id: id.into(),
                reason: format!("is {}; only an explicit resume continues it", r.status.as_str()),
            }),
            Some(r) => Err(Error::Leased {
                id: id.into(),
                owner: r.owner.unwrap_or_default(),
            }),
        }
    }

    /// Extends `owner`'s lease on a run.
    pub fn renew(&self, id: &str, owner: &str) -> Result<Renewal> {
        let rows = self.db().query(
            "UPDATE models SET lease_expires = ?3 WHERE id = ?1 AND owner = ?2 AND status = 'FINETUNING'
             RETURNING cancel_requested",
            params![id, owner, expiry()],
        )?;
        let Some(row) = rows.first() else {
            return Ok(Renewal::Lost);
        };
        Ok(if row.int(0).unwrap_or(0) != 0 {
            Renewal::CancelRequested
        } else {
            Renewal::Held
        })
    }

    /// Gives a stopped run's lease up at once (a graceful stop): the next process may resume it
    /// without waiting for the lease to expire.
    pub fn release(&self, id: &str, owner: &str) -> Result<()> {
        // A cancellation asked for while it stopped is kept: the run ends CANCELLED.
        self.db().execute(
            "UPDATE models SET owner = NULL, lease_expires = NULL,
                 status = CASE WHEN cancel_requested = 1 THEN 'CANCELLED' ELSE status END
             WHERE id = ?1 AND owner = ?2",
            params![id, owner],
        )?;
        Ok(())
    }

    /// Marks a run `owner` stopped on request as `CANCELLED`, its checkpoint kept.
    pub fn cancelled(&self, id: &str, owner: &str) -> Result<()> {
        self.db().execute(
            "UPDATE models SET status = 'CANCELLED', owner = NULL, lease_expires = NULL, cancel_requested = 0
             WHERE id = ?1 AND owner = ?2",
            params![id, owner],
        )?;
        Ok(())
    }

    /// Asks for a run to stop. A queued run, or one whose lease expired, is `CANCELLED` at once
    /// (returns `true`); a run a live process trains is flagged, and its owner stops at its next
    /// step and marks it `CANCELLED` (returns `false`).
    pub fn request_cancel(&self, id: &str) -> Result<bool> {
        let now = now_ms();
        let dead = self.get_any(id)?.and_then(|r| r.owner).filter(|o| owner_is_dead(o));
        let at_once = self.db().execute(
            "UPDATE models SET status = 'CANCELLED', owner = NULL, lease_expires = NULL
             WHERE id = ?1 AND (status = 'QUEUED'
               OR (status = 'FINETUNING' AND (lease_expires IS NULL OR lease_expires <= ?2 OR owner = ?3)))",
            params![id, now, dead],
        )?;
        if at_once == 1 {
            return Ok(true);
        }
        self.db().execute(
            "UPDATE models SET cancel_requested = 1 WHERE id = ?1 AND status = 'FINETUNING'",
            params![id],
        )?;
        Ok(false)
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
    let term = Duration::from_secs(lease_seconds());
    let every = (term / 3).min(Duration::from_secs(2));
    let mut last = Instant::now();
    let mut last_ok = Instant::now();
    let mut reg: Option<Registry> = None;
    let stop_run = |flag: &AtomicBool| {
        flag.store(true, Ordering::SeqCst);
        control.request_stop();
    };
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        // Renewals that keep failing would let the lease run out under a live run: stop it
        // before then, since another process may take the run once the lease has expired.
        if last_ok.elapsed() + every >= term {
            eprintln!("attune: run {id}: its lease could not be renewed; stopping");
            stop_run(&lost);
            return;
        }
        if reg.is_none() {
            reg = Registry::open(&home).ok();
        }
        let Some(r) = &reg else { continue };
        match r.renew(&id, &owner) {
            Ok(Renewal::Held) => last_ok = Instant::now(),
            Ok(Renewal::CancelRequested) => {
                last_ok = Instant::now();
                stop_run(&cancelled);
            }
            Ok(Renewal::Lost) => {
                stop_run(&lost);
                return;
            }
            // A failed renewal (a locked database) is tried again while the term allows.
            Err(e) => eprintln!("attune: run {id}: renewing its lease: {e}"),
        }
    }
}
