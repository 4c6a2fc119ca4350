//! The job queue that workers share: the next run to train is claimed in one transaction, and
//! with PostgreSQL `FOR UPDATE SKIP LOCKED` lets many workers claim at once without waiting on
//! each other or taking the same run. Workers also record what they do, for `/metrics`.

use serde::Serialize;

use super::lease::{expiry, now_ms, owner_is_dead};
use super::{db, Registry, Status};
use crate::error::Result;
use crate::sql_params as params;

/// What one worker (a job runner, in `attune worker` or `attune serve`) last said it does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerState {
    pub id: String,
    /// `idle` or `training`.
    pub state: String,
    pub job: Option<String>,
    /// When it last reported (milliseconds since the Unix epoch).
    pub seen: i64,
}

/// The queue as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStats {
    pub queued: usize,
    pub training: usize,
    /// Runs in training whose lease ran out: their worker died and nobody has taken them yet.
    pub expired: usize,
    /// Runs taken over after their lease ran out, in all.
    pub takeovers: i64,
    pub workers: Vec<WorkerState>,
}

impl Registry {
    /// Claims the next run for `owner`: a run whose lease expired first (it has waited longest),
    /// else the oldest queued one, else a run whose owner is a dead process of this machine.
    /// `None` when there is nothing to do.
    pub fn claim_next(&self, owner: &str) -> Result<Option<String>> {
        let lock = self.db().dialect().lock_row(true);
        let now = now_ms();
        let claimed = {
            let mut db = self.db();
            db::transaction(&mut **db, |db| {
                let rows = db.query(
                    &format!(
                        "SELECT id, status FROM models
                         WHERE status = 'QUEUED' OR (status = 'FINETUNING' AND (lease_expires IS NULL OR lease_expires <= ?1))
                         ORDER BY CASE WHEN status = 'FINETUNING' THEN 0 ELSE 1 END, created
                         LIMIT 1{lock}"
                    ),
                    params![now],
                )?;
                let Some(row) = rows.first() else {
                    return Ok(None);
                };
                let id = row.text(0).unwrap_or_default();
                let taken_over = i64::from(row.text(1).as_deref() == Some(Status::Finetuning.as_str()));
                db.execute(
                    "UPDATE models SET status = 'FINETUNING', error = NULL, owner = ?2, lease_expires = ?3,
                         cancel_requested = 0, takeovers = takeovers + ?4
                     WHERE id = ?1",
                    params![id.as_str(), owner, expiry(), taken_over],
                )?;
                Ok(Some(id))
            })?
        };
        if claimed.is_some() {
            return Ok(claimed);
        }
        // A dead owner's lease may still run; on its own machine that is known at once.
        for r in self.list(true)? {
            let dead = r.owner.as_deref().is_some_and(owner_is_dead);
            if r.status == Status::Finetuning && dead && self.claim(&r.id, owner, false).is_ok() {
                self.db().execute(
                    "UPDATE models SET takeovers = takeovers + 1 WHERE id = ?1",
                    params![r.id.as_str()],
                )?;
                return Ok(Some(r.id));
            }
        }
        Ok(None)
    }

    /// Records what worker `id` does now.
    pub fn report_worker(&self, id: &str, state: &str, job: Option<&str>) -> Result<()> {
        self.db().execute(
            "INSERT INTO workers (id, state, job, seen) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, job = excluded.job, seen = excluded.seen",
            params![id, state, job, now_ms()],
        )?;
        Ok(())
    }

    /// Forgets worker `id` (it stopped).
    pub fn forget_worker(&self, id: &str) -> Result<()> {
        self.db().execute("DELETE FROM workers WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// The queue's counts and the workers heard from within the last `within_ms`.
    pub fn queue_stats(&self, within_ms: i64) -> Result<QueueStats> {
        let now = now_ms();
        // PostgreSQL sums BIGINTs to NUMERIC: the casts keep every count a 64-bit integer.
        let counts = self.db().query(
            "SELECT
                 CAST(COALESCE(SUM(CASE WHEN status = 'QUEUED' THEN 1 ELSE 0 END), 0) AS BIGINT),
                 CAST(COALESCE(SUM(CASE WHEN status = 'FINETUNING' THEN 1 ELSE 0 END), 0) AS BIGINT),
                 CAST(COALESCE(SUM(CASE WHEN status = 'FINETUNING' AND COALESCE(lease_expires, 0) <= ?1 THEN 1 ELSE 0 END), 0) AS BIGINT),
                 CAST(COALESCE(SUM(takeovers), 0) AS BIGINT)
             FROM models",
            params![now],
        )?;
        let c = |i| counts.first().and_then(|r| r.int(i)).unwrap_or(0);
        let workers = self
            .db()
            .query(
                "SELECT id, state, job, seen FROM workers WHERE seen >= ?1 ORDER BY id",
                params![now - within_ms],
            )?
            .iter()
            .map(|r| WorkerState {
                id: r.text(0).unwrap_or_default(),
                state: r.text(1).unwrap_or_default(),
                job: r.text(2),
                seen: r.int(3).unwrap_or(0),
            })
            .collect();
        Ok(QueueStats {
            queued: c(0) as usize,
            training: c(1) as usize,
            expired: c(2) as usize,
            takeovers: c(3),
            workers,
        })
    }
}
