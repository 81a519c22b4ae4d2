//! The operator's Prometheus metrics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the operator exports, registered in one registry.
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    resources: IntGaugeVec,
    pub leader: IntGauge,
    readiness: Mutex<HashMap<(&'static str, String), bool>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new(
                "webhook_operator_reconciles_total",
                "Reconciles by resource kind and outcome (applied, unchanged or error).",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "webhook_operator_reconcile_errors_total",
                "Failed reconciles by resource kind and condition reason.",
            ),
            &["kind", "reason"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "webhook_operator_reconcile_duration_seconds",
                "Time one reconcile took.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["kind"],
        )
        .expect("valid metric");
        let resources = IntGaugeVec::new(
            Opts::new(
                "webhook_operator_resources",
                "Resources the operator reconciles, by kind and whether they are Ready.",
            ),
            &["kind", "ready"],
        )
        .expect("valid metric");
        let leader = IntGauge::new(
            "webhook_operator_leader",
            "1 while this replica holds the lease and reconciles.",
        )
        .expect("valid metric");
        for collector in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(duration.clone()),
            Box::new(resources.clone()),
            Box::new(leader.clone()),
        ] {
            registry.register(collector).expect("unique metric");
        }
        Self {
            registry,
            reconciles,
            errors,
            duration,
            resources,
            leader,
            readiness: Mutex::default(),
        }
    }

    /// Counts one finished reconcile of `kind`.
    pub fn reconciled(
        &self,
        kind: &'static str,
        elapsed: Duration,
        result: Result<bool, &'static str>,
    ) {
        self.duration
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
        let outcome = match result {
            Ok(true) => "applied",
            Ok(false) => "unchanged",
            Err(reason) => {
                self.errors.with_label_values(&[kind, reason]).inc();
                "error"
            }
        };
        self.reconciles.with_label_values(&[kind, outcome]).inc();
    }

    /// Records whether the resource `key` of `kind` is Ready; `None` forgets a deleted one.
    pub fn set_ready(&self, kind: &'static str, key: String, ready: Option<bool>) {
        let mut readiness = self.readiness.lock().expect("metrics lock");
        match ready {
            Some(ready) => readiness.insert((kind, key), ready),
            None => readiness.remove(&(kind, key)),
        };
        let (mut yes, mut no) = (0, 0);
        for ((k, _), ready) in readiness.iter() {
            if *k == kind {
                if *ready { yes += 1 } else { no += 1 }
            }
        }
        self.resources.with_label_values(&[kind, "true"]).set(yes);
        self.resources.with_label_values(&[kind, "false"]).set(no);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        String::from_utf8(out).expect("utf-8 metrics")
    }
}
