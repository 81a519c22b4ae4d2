//! Prometheus metrics of the gateway, exposed on `/actuator/metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Latency buckets in seconds, from half a millisecond to ten seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// All metrics of one gateway process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: Histogram,
    publish_duration: Histogram,
    cache_lookups: IntCounterVec,
    producer_rebuilds: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("webhook_requests_total", "Webhook calls by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let request_duration = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_request_duration_seconds",
                "Time from receiving a webhook call to answering it",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let publish_duration = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_publish_duration_seconds",
                "Time from handing a record to the producer to the broker's acknowledgement",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let cache_lookups = IntCounterVec::new(
            Opts::new(
                "webhook_registration_cache_total",
                "Registration cache look-ups",
            ),
            &["layer", "result"],
        )
        .expect("valid metric");
        let producer_rebuilds = IntCounter::new(
            "webhook_kafka_producer_rebuilds_total",
            "Kafka producers replaced after a fatal error or a stalled broker session",
        )
        .expect("valid metric");

        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(publish_duration.clone()),
            Box::new(cache_lookups.clone()),
            Box::new(producer_rebuilds.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Self {
            registry,
            requests,
            request_duration,
            publish_duration,
            cache_lookups,
            producer_rebuilds,
        }
    }

    /// Counts one answered webhook call and its duration.
    pub fn request(&self, outcome: &str, seconds: f64) {
        self.requests.with_label_values(&[outcome]).inc();
        self.request_duration.observe(seconds);
    }

    pub fn publish(&self, seconds: f64) {
        self.publish_duration.observe(seconds);
    }

    /// `layer` is `local` or `redis`; `result` is `hit` or `miss`.
    pub fn cache_lookup(&self, layer: &str, result: &str) {
        self.cache_lookups.with_label_values(&[layer, result]).inc();
    }

    pub fn producer_rebuilt(&self) {
        self.producer_rebuilds.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding of gathered metrics");
        String::from_utf8(buffer).expect("Prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
