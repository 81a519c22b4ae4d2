//! Command-line registration management, for use before (or without) the operator and the
//! management API. Reads the same environment variables as the server.

use chrono::{Duration as ChronoDuration, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::auth::api_key;
use crate::config::Config;
use crate::store::registration::is_valid_id;
use crate::store::{Database, NewRegistration, migrations};

/// Webhook gateway: receives webhook calls and publishes them to Kafka.
#[derive(Debug, Parser)]
#[command(name = "webhook-gateway", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create or update a webhook registration; prints its URL, and its API key when one is made.
    Register(RegisterArgs),
    /// Issue a new API key; the old ones stay valid for a grace period.
    RotateKey {
        id: String,
        /// Seconds the old keys stay valid.
        #[arg(long, default_value_t = 86_400)]
        grace_seconds: i64,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Let a webhook accept calls again.
    Activate { id: String },
    /// Refuse calls to a webhook without deleting it.
    Deactivate { id: String },
    /// Delete a webhook registration and its keys.
    Delete { id: String },
    /// List the registrations.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Webhook id, the last segment of its URL ([A-Za-z0-9][A-Za-z0-9._-]{0,127}).
    #[arg(long)]
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Workspace the webhook belongs to.
    #[arg(long)]
    pub workspace: String,
    /// Organization id, sent as the `Fx-Organization-Id` record header.
    #[arg(long)]
    pub organization: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Process start event the record targets.
    #[arg(long)]
    pub start_event: Option<String>,
    /// Topic for this webhook instead of the gateway's start topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Body limit for this webhook, at most the gateway's limit.
    #[arg(long)]
    pub max_body_bytes: Option<i32>,
    /// Extra request header to forward in the record (repeatable).
    #[arg(long = "forward-header")]
    pub forward_headers: Vec<String>,
    /// Register the webhook deactivated.
    #[arg(long)]
    pub inactive: bool,
    /// Issue a new API key even if the webhook exists (old keys stop working at once).
    #[arg(long)]
    pub new_key: bool,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Why a command failed; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Runs a registration command.
pub async fn run(command: Command, config: &Config) -> Result<(), CommandError> {
    let database = Database::new(&config.database)?;
    match command {
        Command::Serve => unreachable!("serve is handled by the server"),
        Command::Migrate => {
            let applied = migrations::run(&config.database).await?;
            println!("database migrations applied: {applied}");
        }
        Command::Register(args) => register(args, config, &database).await?,
        Command::RotateKey {
            id,
            grace_seconds,
            output,
        } => {
            if grace_seconds < 0 {
                return Err(CommandError::Invalid(
                    "--grace-seconds must not be negative".into(),
                ));
            }
            require(&database, &id).await?;
            let key = api_key::generate();
            let expiry = Utc::now() + ChronoDuration::seconds(grace_seconds);
            database
                .add_api_key(&id, api_key::hash(&key), Some(expiry))
                .await?;
            print_access(config, &id, Some(&key), output);
        }
        Command::Activate { id } => set_active(&database, &id, true).await?,
        Command::Deactivate { id } => set_active(&database, &id, false).await?,
        Command::Delete { id } => {
            if !database.delete(&id).await? {
                return Err(not_found(&id));
            }
            println!("deleted {id}");
        }
        Command::List => {
            for line in database.list().await? {
                let state = if line.active { "active" } else { "inactive" };
                println!(
                    "{}\t{}\t{}\t{state}\t{}",
                    line.id, line.workspace_id, line.name, line.managed_by
                );
            }
        }
    }
    Ok(())
}

async fn register(
    args: RegisterArgs,
    config: &Config,
    database: &Database,
) -> Result<(), CommandError> {
    if !is_valid_id(&args.id) {
        return Err(CommandError::Invalid(format!(
            "--id {:?} must match [A-Za-z0-9][A-Za-z0-9._-]{{0,127}}",
            args.id
        )));
    }
    if args.max_body_bytes.is_some_and(|n| n <= 0) {
        return Err(CommandError::Invalid(
            "--max-body-bytes must be positive".into(),
        ));
    }
    migrations::run(&config.database).await?;
    let registration = NewRegistration {
        id: args.id.clone(),
        name: args.name,
        description: args.description,
        workspace_id: args.workspace,
        organization_id: args.organization,
        active: !args.inactive,
        start_event: args.start_event,
        topic: args.topic,
        max_body_bytes: args.max_body_bytes,
        forwarded_headers: args
            .forward_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        managed_by: "cli".into(),
    };
    let created = database.upsert(&registration).await?;
    let key = if created || args.new_key {
        let key = api_key::generate();
        let revoke_old = (!created).then(Utc::now);
        database
            .add_api_key(&args.id, api_key::hash(&key), revoke_old)
            .await?;
        Some(key)
    } else {
        None
    };
    print_access(config, &args.id, key.as_deref(), args.output);
    Ok(())
}

async fn require(database: &Database, id: &str) -> Result<(), CommandError> {
    match database.find(id).await? {
        Some(_) => Ok(()),
        None => Err(not_found(id)),
    }
}

async fn set_active(database: &Database, id: &str, active: bool) -> Result<(), CommandError> {
    if !database.set_active(id, active).await? {
        return Err(not_found(id));
    }
    println!("{id} is now {}", if active { "active" } else { "inactive" });
    Ok(())
}

fn not_found(id: &str) -> CommandError {
    CommandError::Invalid(format!("no webhook is registered under {id:?}"))
}

/// Prints the webhook URL and, when freshly issued, its key and a ready `curl` line.
fn print_access(config: &Config, id: &str, key: Option<&str>, output: Output) {
    let url = format!("{}/webhooks/{id}", config.server.public_url);
    match output {
        Output::Json => println!("{}", json!({ "id": id, "url": url, "apiKey": key })),
        Output::Text => {
            println!("webhook:  {id}");
            println!("url:      {url}");
            match key {
                Some(key) => {
                    println!("api key:  {key}   (shown once; only its hash is stored)");
                    println!(
                        "curl:     curl -i -X POST '{url}' -H 'Content-Type: application/json' \
                         -H 'X-API-Key: {key}' -d '{{\"hello\":\"world\"}}'"
                    );
                }
                None => println!("api key:  unchanged (use --new-key or rotate-key to issue one)"),
            }
        }
    }
}
