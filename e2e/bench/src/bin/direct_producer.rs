//! The Kafka ceiling: sends 1 KiB records straight to the broker with the gateway's producer
//! settings, either as fast as a fixed number of in-flight sends allows (`--max`) or at a fixed
//! rate (`--rate`), and prints the figures as one JSON line.

use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Direct rdkafka producer for load benchmarks")]
struct Args {
    #[arg(long, env = "SPRING_KAFKA_BOOTSTRAP_SERVERS")]
    brokers: String,
    #[arg(long, env = "KAFKA_TOPIC_PROCESS_START_OUT")]
    topic: String,
    /// Keep --concurrency sends in flight and report records/s.
    #[arg(long, conflicts_with = "rate", required_unless_present = "rate")]
    max: bool,
    /// Send this many records per second and report ack latency.
    #[arg(long)]
    rate: Option<f64>,
    /// Sends in flight with --max.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// Unmeasured seconds first: the first records wait about 0.5 s for a producer id.
    #[arg(long, default_value_t = 1.0)]
    warmup_seconds: f64,
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
}

/// Outcome of one send: when it started, how long until the ack, and whether it was acked.
struct Sample {
    sent: Instant,
    acked: Instant,
    ok: bool,
}

fn producer(brokers: &str) -> FutureProducer {
    // The gateway's settings (gateway/src/publish), so the only difference is the HTTP path.
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("client.id", "webhook-gateway-bench")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "5000")
        .create()
        .expect("Kafka producer")
}

async fn send(producer: &FutureProducer, topic: &str, payload: &[u8]) -> Sample {
    let key = uuid::Uuid::now_v7().to_string();
    let record = FutureRecord::to(topic).key(&key).payload(payload);
    let sent = Instant::now();
    let outcome = producer.send(record, Timeout::After(Duration::ZERO)).await;
    if let Err((e, _)) = &outcome {
        eprintln!("bench-direct-producer: send failed: {e}");
    }
    Sample {
        sent,
        acked: Instant::now(),
        ok: outcome.is_ok(),
    }
}

/// `concurrency` loops, each sending the next record as soon as the last one is acked.
async fn run_max(
    args: &Args,
    producer: FutureProducer,
    payload: Vec<u8>,
    end: Instant,
) -> Vec<Sample> {
    let loops: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (producer, topic, payload) =
                (producer.clone(), args.topic.clone(), payload.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < end {
                    samples.push(send(&producer, &topic, &payload).await);
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for handle in loops {
        samples.extend(handle.await.expect("send loop"));
    }
    samples
}

/// Open loop: a send is started on schedule whether or not earlier ones were acked, like
/// webhook callers do.
async fn run_rate(
    args: &Args,
    rate: f64,
    producer: FutureProducer,
    payload: Vec<u8>,
    end: Instant,
) -> Vec<Sample> {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut sends = Vec::new();
    loop {
        ticks.tick().await;
        if Instant::now() >= end {
            break;
        }
        let (producer, topic, payload) = (producer.clone(), args.topic.clone(), payload.clone());
        sends.push(tokio::spawn(async move {
            send(&producer, &topic, &payload).await
        }));
    }
    let mut samples = Vec::with_capacity(sends.len());
    for handle in sends {
        samples.push(handle.await.expect("send"));
    }
    samples
}

fn percentile_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let index = (last as f64 * p).round() as usize;
    Some((sorted[index].as_secs_f64() * 1e6).round() / 1e3)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let producer = producer(&args.brokers);
    let payload = {
        // A JSON object padded to exactly record_bytes, like the HTTP benchmark's body.
        let pad = args.record_bytes.saturating_sub(r#"{"pad":""}"#.len());
        format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad)).into_bytes()
    };

    let start = Instant::now();
    let measured_from = start + Duration::from_secs_f64(args.warmup_seconds);
    let end = measured_from + Duration::from_secs_f64(args.seconds);
    let samples = match args.rate {
        Some(rate) => run_rate(&args, rate, producer.clone(), payload, end).await,
        None => run_max(&args, producer.clone(), payload, end).await,
    };
    let _ = producer.flush(Duration::from_secs(10));

    // --max counts acks that arrived in the window; --rate takes the sends started in it.
    let measured: Vec<&Sample> = samples
        .iter()
        .filter(|s| match args.rate {
            Some(_) => s.sent >= measured_from,
            None => s.acked >= measured_from && s.acked < end,
        })
        .collect();
    let errors = measured.iter().filter(|s| !s.ok).count();
    let mut latencies: Vec<Duration> = measured
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.acked - s.sent)
        .collect();
    latencies.sort_unstable();
    let acked = latencies.len();
    let summary = json!({
        "mode": if args.rate.is_some() { "rate" } else { "max" },
        "rate": args.rate,
        "concurrency": args.rate.is_none().then_some(args.concurrency),
        "seconds": args.seconds,
        "record_bytes": args.record_bytes,
        "acked": acked,
        "errors": errors,
        "records_per_sec": (acked as f64 / args.seconds).round() as u64,
        "p50_ms": percentile_ms(&latencies, 0.50),
        "p99_ms": percentile_ms(&latencies, 0.99),
        "max_ms": percentile_ms(&latencies, 1.0),
    });
    println!("{summary}");
}
