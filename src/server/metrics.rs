//! Prometheus metrics: requests by route and status, latency histograms, batch sizes, and the
//! training queue, in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::registry::QueueStats;

const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 96.0, 256.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (c, b) in self.counts.iter_mut().zip(buckets) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, buckets: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (c, b) in self.counts.iter().zip(buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    batches: Histogram,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        let mut m = self.lock();
        *m.requests.entry((route.to_string(), status)).or_default() += 1;
        m.latency
            .entry(route.to_string())
            .or_default()
            .observe(&LATENCY_BUCKETS, seconds);
    }

    pub fn observe_batch(&self, texts: usize) {
        self.lock().batches.observe(&BATCH_BUCKETS, texts as f64);
    }

    /// The exposition text; `queue` is the job queue's state now (shared by every server and
    /// worker of a cluster).
    pub fn render(&self, queue: &QueueStats, models_loaded: usize, model_loads: u64) -> String {
        let m = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP attune_requests_total HTTP requests by route and status.\n# TYPE attune_requests_total counter\n",
        );
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "attune_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP attune_request_seconds Request latency.\n# TYPE attune_request_seconds histogram\n");
        for (route, h) in &m.latency {
            h.render(
                &mut out,
                "attune_request_seconds",
                &format!("route=\"{route}\""),
                &LATENCY_BUCKETS,
            );
        }
        out.push_str("# HELP attune_batch_texts Texts per shared forward pass.\n# TYPE attune_batch_texts histogram\n");
        m.batches.render(&mut out, "attune_batch_texts", "", &BATCH_BUCKETS);
        let _ = writeln!(out, "# HELP attune_jobs_queued Fine-tuning jobs waiting.\n# TYPE attune_jobs_queued gauge\nattune_jobs_queued {}", queue.queued);
        let _ = writeln!(out, "# HELP attune_jobs_running Fine-tuning jobs running.\n# TYPE attune_jobs_running gauge\nattune_jobs_running {}", queue.training);
        let _ = writeln!(out, "# HELP attune_leases_expired Runs in training whose worker stopped renewing its lease, not yet taken over.\n# TYPE attune_leases_expired gauge\nattune_leases_expired {}", queue.expired);
        let _ = writeln!(out, "# HELP attune_lease_takeovers_total Runs resumed by another worker after their lease expired.\n# TYPE attune_lease_takeovers_total counter\nattune_lease_takeovers_total {}", queue.takeovers);
        out.push_str("# HELP attune_worker_training Workers heard from lately: 1 while training a job, 0 idle.\n# TYPE attune_worker_training gauge\n");
        for w in &queue.workers {
            let job = w.job.as_deref().unwrap_or("");
            let _ = writeln!(
                out,
                "attune_worker_training{{worker=\"{}\",job=\"{job}\"}} {}",
                w.id,
                u8::from(w.state == "training")
            );
        }
        let _ = writeln!(out, "# HELP attune_models_loaded Models in memory.\n# TYPE attune_models_loaded gauge\nattune_models_loaded {models_loaded}");
        let _ = writeln!(out, "# HELP attune_model_loads_total Models loaded from disk since start.\n# TYPE attune_model_loads_total counter\nattune_model_loads_total {model_loads}");
        out
    }
}
