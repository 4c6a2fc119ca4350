//! A run's progress written to the registry, where the API and the dashboard read it: the
//! latest step at most twice a second, and the loss of every step, thinned (every other point
//! kept) whenever the curve reaches its cap, so a long run stays a small record.

use std::time::{Duration, Instant};

use super::Progress;
use crate::registry::{JobProgress, Registry};
use crate::train::Event;

/// The most loss points a progress record keeps.
const LOSS_POINTS: usize = 400;

/// Records progress for one run through its own registry connection.
pub struct RegistryProgress {
    registry: Registry,
    id: String,
    last: Option<Instant>,
    losses: Vec<(usize, f64)>,
}

impl RegistryProgress {
    pub fn new(registry: Registry, id: &str) -> Self {
        RegistryProgress {
            registry,
            id: id.to_string(),
            last: None,
            losses: Vec::new(),
        }
    }

    /// Takes one progress report; failures to write are reported and training goes on.
    pub fn record(&mut self, p: &Progress) {
        let Progress::Train(Event::Step {
            step,
            total,
            epoch,
            loss,
            eta_s,
            ..
        }) = p
        else {
            return;
        };
        self.losses.push((*step, *loss));
        if self.losses.len() >= LOSS_POINTS {
            self.losses = self.losses.iter().copied().step_by(2).collect();
        }
        let due = self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if !due && step != total {
            return;
        }
        self.last = Some(Instant::now());
        let progress = JobProgress {
            step: *step,
            total: *total,
            epoch: *epoch,
            loss: *loss,
            eta_s: *eta_s,
            losses: self.losses.clone(),
        };
        if let Err(e) = self.registry.set_progress(&self.id, &progress) {
            eprintln!("attune: run {}: recording progress: {e}", self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_stays_bounded_and_the_last_step_is_recorded() {
        let home = tempfile::tempdir().unwrap();
        let reg = Registry::open(home.path()).unwrap();
        let id = reg.enqueue(None, "b", "s", &serde_json::json!({})).unwrap();
        let mut sink = RegistryProgress::new(Registry::open(home.path()).unwrap(), &id);
        let total = 1000;
        for step in 1..=total {
            let ev = Event::Step {
                step,
                total,
                epoch: 1,
                loss: 1.0 / step as f64,
                lr: 1e-4,
                steps_per_s: 100.0,
                eta_s: 0.0,
            };
            sink.record(&Progress::Train(&ev));
        }
        let p = reg.get_any(&id).unwrap().unwrap().progress.unwrap();
        assert_eq!((p.step, p.total), (total, total));
        assert!(
            p.losses.len() < LOSS_POINTS && p.losses.len() > LOSS_POINTS / 4,
            "{}",
            p.losses.len()
        );
        assert_eq!(p.losses[0], (1, 1.0));
    }
}
