use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use webhook_crds::WebhookGateway;
use webhook_gateway::config::DatabaseConfig;
use webhook_gateway::store::sealing::SealingKeys;
use webhook_gateway::store::{Database, migrations};
use webhook_operator::render::{self, Defaults};
use webhook_operator::run::{self, Settings};
use webhook_operator::{file_mode, permissions};

/// Kubernetes operator of the webhook gateway.
#[derive(Parser)]
#[command(name = "webhook-operator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile WebhookGateway and Webhook resources in the cluster (settings from the
    /// WEBHOOK_OPERATOR_* environment variables).
    Run,
    /// Write the Webhook resources in files straight into the gateway database
    /// (SPRING_DATASOURCE_*, WEBHOOK_GATEWAY_SEALING_KEYS); Secrets in the files resolve
    /// secretRefs.
    Apply {
        /// A YAML file or a folder of them; repeatable.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
        /// Namespace of resources that name none.
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
    /// Print the objects a WebhookGateway resource becomes, as YAML, without a cluster.
    Render {
        /// File holding one WebhookGateway.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Gateway image for resources that name none.
        #[arg(
            long,
            env = "WEBHOOK_OPERATOR_GATEWAY_IMAGE",
            default_value = "ghcr.io/flowx-oss/webhook-gateway:0.1.0"
        )]
        image: String,
    },
    /// Print the Kubernetes API permissions the operator uses, as JSON.
    Permissions,
}

fn init_logging() {
    let level = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| ["trace", "debug", "info", "warn", "error", "off"].contains(&v.as_str()))
            .unwrap_or_else(|| "info".to_owned())
    };
    let app = level("LOGGING_LEVEL_APP");
    let filter = EnvFilter::new(format!(
        "{},webhook_operator={app},webhook_gateway={app}",
        level("LOGGING_LEVEL_ROOT")
    ));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Run => match Settings::from_lookup(|name| std::env::var(name).ok()) {
            Ok(settings) => run::run(settings).await,
            Err(problem) => Err(anyhow::anyhow!(problem)),
        },
        Command::Apply { files, namespace } => apply(&files, &namespace).await,
        Command::Render { file, image } => render_file(&file, image),
        Command::Permissions => {
            println!(
                "{}",
                serde_json::to_string_pretty(&permissions::all()).expect("json")
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("webhook-operator: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn apply(paths: &[PathBuf], namespace: &str) -> anyhow::Result<()> {
    let files = file_mode::files(paths).map_err(anyhow::Error::msg)?;
    let documents = file_mode::read(&files, namespace).map_err(anyhow::Error::msg)?;
    if documents.webhooks.is_empty() {
        anyhow::bail!("no Webhook resources in {} file(s)", files.len());
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let config = DatabaseConfig::from_lookup(&lookup)?;
    let sealing = SealingKeys::parse(
        &std::env::var("WEBHOOK_GATEWAY_SEALING_KEYS").unwrap_or_default(),
        std::env::var("WEBHOOK_GATEWAY_SEALING_KEY_ID")
            .ok()
            .filter(|v| !v.is_empty())
            .as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("WEBHOOK_GATEWAY_SEALING_KEYS: {e}"))?;
    migrations::run(&config).await?;
    let database = Database::new(&config)?;
    let public_url = std::env::var("WEBHOOK_GATEWAY_PUBLIC_URL")
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty());
    let (report, ok) =
        file_mode::apply(&documents, &database, &sealing, public_url.as_deref()).await;
    print!("{report}");
    if !ok {
        anyhow::bail!("some webhooks were not registered");
    }
    Ok(())
}

fn render_file(file: &PathBuf, image: String) -> anyhow::Result<()> {
    let name = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("{name}"))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("{name}: not YAML"))?;
    let kind = value
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("<none>");
    if kind != "WebhookGateway" {
        anyhow::bail!("{name}: holds a {kind}, not a WebhookGateway");
    }
    let gateway: WebhookGateway = serde_yaml::from_value(value)
        .with_context(|| format!("{name}: not a valid WebhookGateway"))?;
    for child in render::render(&gateway, &Defaults { image }) {
        print!("---\n{}", serde_yaml::to_string(&child.object)?);
    }
    Ok(())
}
