//! The fine-tuning job runner (a worker): one job at a time, from the queue in the registry's
//! database, which any number of workers on any machines may share. It first resumes runs whose
//! owner is gone (their lease expired or was given up), from their checkpoint, then takes
//! `QUEUED` runs oldest first; a run another live process trains (a CLI run on the same home,
//! another worker) is never touched. A stop request (shutdown) makes the running job
//! checkpoint.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::error::Error;
use crate::finetune::{take_over, Progress, RegistryProgress};
use crate::registry::Registry;
use crate::source::SourceOptions;
use crate::train::Control;

/// Handle to the runner thread.
pub struct JobRunner {
    wake: mpsc::Sender<()>,
    control: Control,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JobRunner {
    pub fn start(home: PathBuf, sources: SourceOptions) -> Self {
        let (wake, rx) = mpsc::channel();
        let control = Control::default();
        let c = control.clone();
        let thread = std::thread::Builder::new()
            .name("attune-jobs".into())
            .spawn(move || run(home, sources, c, rx))
            .ok();
        JobRunner { wake, control, thread }
    }

    /// Tells the runner a job was queued.
    pub fn notify(&self) {
        let _ = self.wake.send(());
    }

    /// Stops the runner: a running job checkpoints and stays `FINETUNING`, to resume at the next
    /// start. Blocks until it has.
    pub fn shutdown(mut self) {
        self.control.request_stop();
        let _ = self.wake.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(home: PathBuf, sources: SourceOptions, control: Control, rx: mpsc::Receiver<()>) {
    let owner = crate::registry::owner_id();
    let report = |state: &str, job: Option<&str>| {
        if let Err(e) = Registry::open(&home).and_then(|r| r.report_worker(owner, state, job)) {
            eprintln!("attune: worker {owner}: {e}");
        }
    };
    loop {
        if control.stop_requested() {
            let _ = Registry::open(&home).and_then(|r| r.forget_worker(owner));
            return;
        }
        let next = Registry::open(&home).and_then(|r| r.claim_next(owner));
        let id = match next {
            Ok(Some(id)) => id,
            Ok(None) => {
                report("idle", None);
                let _ = rx.recv_timeout(Duration::from_secs(2));
                continue;
            }
            Err(e) => {
                // The database is away (a restart): try again shortly; nothing is lost.
                eprintln!("attune: job queue: {e}");
                let _ = rx.recv_timeout(Duration::from_secs(2));
                continue;
            }
        };
        report("training", Some(&id));
        train(&home, &id, &sources, &control);
    }
}

/// Trains the run this worker has claimed, to its end or to a stop.
fn train(home: &std::path::Path, id: &str, sources: &SourceOptions, control: &Control) {
    eprintln!("attune: job {id}: starting");
    let mut reg = match Registry::open(home) {
        Ok(r) => r,
        Err(e) => {
            // The claim's lease runs out and another worker (or this one) takes the run.
            eprintln!("attune: job {id}: {e}");
            return;
        }
    };
    let mut sink = Registry::open(home).ok().map(|r| RegistryProgress::new(r, id));
    let mut on = |p: Progress| {
        if let Some(s) = sink.as_mut() {
            s.record(&p);
        }
    };
    match take_over(id, control.clone(), &mut reg, sources, &mut on) {
        Ok(o) => eprintln!("attune: job {id}: READY in {:.0} s", o.seconds),
        Err(Error::Interrupted(why)) => {
            eprintln!("attune: job {id}: {why}; it resumes at the next start")
        }
        // Taken by another process, or cancelled: not ours.
        Err(e @ (Error::Leased { .. } | Error::Cancelled { .. })) => eprintln!("attune: job {id}: {e}"),
        Err(e) => {
            // Errors before the run starts (data changed, base model missing) would leave it
            // queued for ever: mark it failed with the reason (only if nobody else holds it).
            let _ = reg.fail(id, Some(crate::registry::owner_id()), &e.to_string());
            eprintln!("attune: job {id}: FAILED: {e}");
        }
    }
}

/// `attune worker`: claims and trains jobs from the shared queue, nothing else, until SIGTERM
/// or Ctrl-C; then the running job checkpoints and gives its lease up, so another worker
/// resumes it at once. `on_ready` is called once the registry answered.
pub fn work(home: PathBuf, sources: SourceOptions, on_ready: impl FnOnce(&str)) -> crate::Result<()> {
    let reg = Registry::open(&home)?;
    on_ready(&reg.database());
    drop(reg);
    let (tx, rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| Error::Internal(format!("cannot catch SIGTERM and Ctrl-C: {e}")))?;
    let runner = JobRunner::start(home, sources);
    let _ = rx.recv();
    eprintln!("attune: worker stopping (a running fine-tune saves a checkpoint)");
    runner.shutdown();
    Ok(())
}
