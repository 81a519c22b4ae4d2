//! Publishing webhook events to Kafka with an idempotent, `acks=all` producer that replaces
//! itself when it can no longer make progress (a fatal error, or a broker that lost its state).

mod oauth;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use crate::config::{KafkaConfig, SecurityProtocol};
use crate::metrics::Metrics;
pub use oauth::GatewayContext;

/// Least time between two producer replacements.
const REBUILD_INTERVAL: Duration = Duration::from_secs(10);

/// Room for the event envelope and headers on top of the largest body.
const ENVELOPE_ALLOWANCE: usize = 256 * 1024;

type KafkaProducer = FutureProducer<GatewayContext>;

/// One record to publish.
pub struct OutgoingRecord<'a> {
    pub topic: &'a str,
    pub key: &'a str,
    pub value: &'a [u8],
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// Where the broker stored an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledgement {
    pub partition: i32,
    pub offset: i64,
}

/// Why a record was not acknowledged. Each is worth retrying later.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the broker did not acknowledge the record in time")]
    Timeout,
    #[error("the producer queue is full")]
    Overloaded,
    #[error("the record is larger than the broker accepts")]
    TooLarge,
    #[error("Kafka refused the record: {0}")]
    Kafka(KafkaError),
    #[error("the Kafka producer could not be created: {0}")]
    Unavailable(String),
}

/// The gateway's Kafka producer, shared by all HTTP workers.
pub struct Publisher {
    config: KafkaConfig,
    max_message_bytes: usize,
    producer: ArcSwap<KafkaProducer>,
    metrics: Arc<Metrics>,
    started: Instant,
    last_success_ms: AtomicU64,
    last_rebuild_ms: AtomicU64,
}

impl Publisher {
    /// Creates the producer. Connecting happens in the background; no broker needs to be up.
    pub fn new(
        config: &KafkaConfig,
        max_body_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, PublishError> {
        let max_message_bytes = (max_body_bytes * 2 + ENVELOPE_ALLOWANCE).max(1_000_000);
        let producer = build_producer(config, max_message_bytes)?;
        Ok(Self {
            config: config.clone(),
            max_message_bytes,
            producer: ArcSwap::from_pointee(producer),
            metrics,
            started: Instant::now(),
            last_success_ms: AtomicU64::new(0),
            last_rebuild_ms: AtomicU64::new(0),
        })
    }

    /// The topic records go to unless a registration overrides it.
    pub fn start_topic(&self) -> &str {
        &self.config.start_topic
    }

    /// Publishes one record and waits for the broker's acknowledgement.
    pub async fn publish(
        &self,
        record: OutgoingRecord<'_>,
    ) -> Result<Acknowledgement, PublishError> {
        let producer = self.producer.load_full();
        let headers = record.headers.iter().fold(
            OwnedHeaders::new_with_capacity(record.headers.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(*value),
                })
            },
        );
        let kafka_record = FutureRecord::to(record.topic)
            .key(record.key)
            .payload(record.value)
            .headers(headers);

        let started = Instant::now();
        let delivery = producer.send(kafka_record, Timeout::After(Duration::ZERO));
        // librdkafka's message.timeout.ms bounds delivery; this outer bound is a safety net.
        let outcome = tokio::time::timeout(
            self.config.publish_timeout + Duration::from_secs(1),
            delivery,
        )
        .await;
        self.metrics.publish(started.elapsed().as_secs_f64());

        match outcome {
            Ok(Ok(delivery)) => {
                self.last_success_ms
                    .store(self.elapsed_ms(), Ordering::Relaxed);
                Ok(Acknowledgement {
                    partition: delivery.partition,
                    offset: delivery.offset,
                })
            }
            Ok(Err((error, _))) => {
                let error = classify(error);
                self.after_failure(&producer, &error);
                Err(error)
            }
            Err(_) => {
                self.after_failure(&producer, &PublishError::Timeout);
                Err(PublishError::Timeout)
            }
        }
    }

    /// Checks that a broker answers and that the start topic exists.
    pub async fn check(&self) -> Result<(), String> {
        let producer = self.producer.load_full();
        let topic = self.config.start_topic.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
                .map_err(|e| format!("no broker answered: {e}"))?;
            let found = metadata.topics().iter().find(|t| t.name() == topic);
            match found {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(()),
                _ => Err(format!("topic {topic} does not exist")),
            }
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Waits for every queued record to be delivered, up to `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), String> {
        let producer = self.producer.load_full();
        tokio::task::spawn_blocking(move || producer.flush(timeout).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Decides whether the producer that just failed must be replaced.
    fn after_failure(&self, failed: &Arc<KafkaProducer>, error: &PublishError) {
        let fatal = failed.client().fatal_error();
        let stalled = matches!(error, PublishError::Timeout)
            && self.no_success_for(self.config.publish_timeout);
        if fatal.is_none() && !stalled {
            return;
        }
        let now = self.elapsed_ms();
        let last = self.last_rebuild_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < REBUILD_INTERVAL.as_millis() as u64 {
            return;
        }
        if self
            .last_rebuild_ms
            .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if !Arc::ptr_eq(&self.producer.load(), failed) {
            return;
        }
        let reason = match &fatal {
            Some((code, text)) => format!("fatal producer error {code:?}: {text}"),
            None => format!(
                "no acknowledgement for {} ms",
                self.config.publish_timeout.as_millis()
            ),
        };
        match build_producer(&self.config, self.max_message_bytes) {
            Ok(fresh) => {
                let old = self.producer.swap(Arc::new(fresh));
                self.metrics.producer_rebuilt();
                tracing::warn!(
                    "Kafka producer replaced after {reason}; new records go to a new producer"
                );
                // Destroying a producer may block while it purges its queue: keep it off the workers.
                tokio::task::spawn_blocking(move || drop(old));
            }
            Err(e) => tracing::error!("Kafka producer could not be replaced after {reason}: {e}"),
        }
    }

    fn no_success_for(&self, period: Duration) -> bool {
        let last = self.last_success_ms.load(Ordering::Relaxed);
        self.elapsed_ms().saturating_sub(last) >= period.as_millis() as u64
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

fn classify(error: KafkaError) -> PublishError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) => PublishError::Timeout,
        Some(RDKafkaErrorCode::QueueFull) => PublishError::Overloaded,
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => PublishError::TooLarge,
        _ => PublishError::Kafka(error),
    }
}

fn build_producer(
    config: &KafkaConfig,
    max_message_bytes: usize,
) -> Result<KafkaProducer, PublishError> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("client.id", "webhook-gateway")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set(
            "message.timeout.ms",
            config.publish_timeout.as_millis().to_string(),
        )
        .set("linger.ms", "1")
        .set("message.max.bytes", max_message_bytes.to_string())
        .set("socket.keepalive.enable", "true")
        .set("reconnect.backoff.max.ms", "2000");
    let context = match (&config.security_protocol, &config.oauth) {
        (SecurityProtocol::SaslPlaintext, Some(oauth)) => {
            client
                .set("security.protocol", "SASL_PLAINTEXT")
                .set("sasl.mechanism", "OAUTHBEARER");
            GatewayContext::with_oauth(oauth.clone(), config.auth_exception_retry_interval)
        }
        _ => GatewayContext::plaintext(),
    };
    client
        .create_with_context(context)
        .map_err(|e| PublishError::Unavailable(e.to_string()))
}
