//! Progress of a fine-tune on stderr. On a terminal: stage lines and a live bar. Elsewhere (a CI
//! log, `nohup`, `--json` piped): plain lines, and a heartbeat thread that repeats the latest
//! state at least every `ATTUNE_PROGRESS_SECONDS` (default 10) so a long run never goes quiet.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use attune::finetune::Progress;
use attune::train::Event;

/// What the latest line said, and when a line was last written.
struct Beat {
    start: Instant,
    last: Instant,
    stage: String,
    /// "step 12/300  epoch 1  loss 0.4321  eta 2m10s", once training has started.
    step: Option<String>,
}

impl Beat {
    fn line(&self) -> String {
        let elapsed = fmt_secs(self.start.elapsed().as_secs_f64());
        match &self.step {
            Some(s) => format!("attune: [{elapsed}] {}: {s}", self.stage),
            None => format!("attune: [{elapsed}] {}", self.stage),
        }
    }
}

fn every() -> Duration {
    let s = std::env::var("ATTUNE_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(10.0);
    Duration::from_secs_f64(s)
}

/// Prints progress on stderr.
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    terminal: bool,
    beat: Arc<Mutex<Beat>>,
    done: Arc<AtomicBool>,
}

impl Reporter {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        let beat = Arc::new(Mutex::new(Beat {
            start: now,
            last: now,
            stage: "starting".into(),
            step: None,
        }));
        let done = Arc::new(AtomicBool::new(false));
        let terminal = std::io::stderr().is_terminal();
        if !terminal {
            let (beat, done, every) = (beat.clone(), done.clone(), every());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200).min(every));
                    let mut b = beat.lock().unwrap_or_else(|e| e.into_inner());
                    if b.last.elapsed() >= every && !done.load(Ordering::SeqCst) {
                        eprintln!("{}", b.line());
                        b.last = Instant::now();
                    }
                }
            });
        }
        Reporter {
            bar: None,
            terminal,
            beat,
            done,
        }
    }

    /// Updates the state and, when `print`, writes its line now.
    fn update(&self, stage: Option<&str>, step: Option<String>, print: bool) {
        let mut b = self.beat.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = stage {
            b.stage = s.to_string();
            b.step = None;
        }
        if step.is_some() {
            b.step = step;
        }
        if print && !self.terminal {
            eprintln!("{}", b.line());
            b.last = Instant::now();
        }
    }

    fn say(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    pub(crate) fn report(&mut self, p: Progress) {
        match p {
            Progress::Stage(s) => {
                self.update(Some(s), None, !self.terminal);
                if self.terminal {
                    self.say(&format!("attune: {s}"));
                }
            }
            Progress::Started { model_id } => {
                self.update(Some("training"), None, false);
                self.say(&format!(
                    "attune: training {model_id} (if interrupted: attune finetune --resume {model_id})"
                ))
            }
            Progress::Train(ev) => self.train_event(ev),
        }
    }

    fn train_event(&mut self, ev: &Event) {
        match ev {
            Event::Step {
                step,
                total,
                loss,
                steps_per_s,
                eta_s,
                epoch,
                ..
            } => {
                let msg = format!(
                    "step {step}/{total}  epoch {epoch}  loss {loss:.4}  {steps_per_s:.2} steps/s  eta {}",
                    fmt_secs(*eta_s)
                );
                if self.terminal {
                    let bar = self.bar.get_or_insert_with(|| {
                        let b = ProgressBar::new(*total as u64);
                        b.set_style(
                            ProgressStyle::with_template("{bar:30} step {pos}/{len}  {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                        b
                    });
                    bar.set_position(*step as u64);
                    bar.set_message(format!(
                        "epoch {epoch}  loss {loss:.4}  {steps_per_s:.2} steps/s  eta {}",
                        fmt_secs(*eta_s)
                    ));
                }
                // The first step prints at once; later ones are repeated by the heartbeat.
                self.update(Some("training"), Some(msg), *step == 1 || step == total);
            }
            Event::Epoch {
                epoch,
                epochs,
                score,
                improved,
            } => {
                let msg = format!(
                    "attune: epoch {epoch}/{epochs}: selection score {score:.4}{}",
                    if *improved { " (best so far)" } else { "" }
                );
                self.say(&msg);
                self.update(Some("training"), None, false);
            }
            Event::EarlyStop { epoch, best_epoch } => self.say(&format!(
                "attune: stopping early after epoch {epoch}; keeping epoch {best_epoch}"
            )),
            Event::Resumed { epoch, step } => self.say(&format!("attune: resumed after epoch {epoch} (step {step})")),
            Event::Checkpointed { .. } => {}
        }
    }

    pub(crate) fn finish(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

pub(crate) fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
