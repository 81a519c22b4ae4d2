//! Reliability fault suite for the webhook gateway: for each scenario a gateway of its own under
//! steady load, one dependency broken and healed (or the gateway itself restarted), and the
//! answers counted against what the topic holds. Prints a table; exits 1 when an acknowledged
//! event was lost or an invariant broke. Run it through `e2e/faults/run.sh`.

mod load;
mod process;
mod report;
mod scenarios;
mod stack;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use crate::scenarios::{Scenario, Scratch, Suite};
use crate::stack::Stack;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("missing {0}: source the stack's env file (e2e/faults/run.sh does)")]
    MissingVariables(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("Kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Setup(String),
}

impl SuiteError {
    pub fn io(what: &str, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

#[derive(Parser)]
#[command(about = "Webhook gateway fault suite")]
struct Args {
    /// The webhook-gateway binary to test.
    #[arg(long)]
    gateway_bin: PathBuf,
    /// Where logs and private service data go.
    #[arg(long)]
    work_dir: PathBuf,
    /// Webhook calls per second, all senders together.
    #[arg(long, default_value_t = 300.0)]
    rate: f64,
    /// Concurrent senders.
    #[arg(long, default_value_t = 12)]
    senders: usize,
    /// Run only these scenarios (repeatable); all by default.
    #[arg(long, value_enum)]
    only: Vec<Scenario>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Dropping the suite's future on a signal drops every process guard it holds, so nothing it
    // started outlives it.
    tokio::select! {
        code = run(args) => code,
        signal = interrupted() => {
            eprintln!("fault-suite: {signal}; stopping what it started");
            ExitCode::from(130)
        }
    }
}

async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}

async fn run(args: Args) -> ExitCode {
    let stack = match Stack::from_env() {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("fault-suite: {e}");
            return ExitCode::from(2);
        }
    };
    if !(args.rate > 0.0 && args.senders > 0) {
        eprintln!("fault-suite: --rate and --senders must be positive");
        return ExitCode::from(2);
    }
    let scenarios = if args.only.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        args.only.clone()
    };
    let suite = Suite {
        stack,
        gateway_bin: args.gateway_bin,
        work_dir: args.work_dir,
        senders: args.senders,
        rate: args.rate,
    };

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for scenario in scenarios {
        let started = std::time::Instant::now();
        eprintln!("[fault-suite] {} ...", scenario.title());
        let mut scratch = Scratch::default();
        let outcome = suite.run(scenario, &mut scratch).await;
        scratch.clean(&suite.stack).await;
        match outcome {
            Ok(row) => rows.push(row),
            Err(e) => errors.push((scenario.title(), e.to_string())),
        }
        eprintln!(
            "[fault-suite] {} done in {:.0}s",
            scenario.title(),
            started.elapsed().as_secs_f64()
        );
    }

    println!();
    report::print_table(&rows, &errors);
    let failed = !errors.is_empty() || rows.iter().any(|row| row.failures().next().is_some());
    if failed {
        println!("\nFAILED: see the lines marked FAILED above");
        ExitCode::FAILURE
    } else {
        println!("\nall scenarios passed: no acknowledged event lost, no invariant broken");
        ExitCode::SUCCESS
    }
}
