//! Command-line registration management, for use before (or without) the operator and the
//! management API. Reads the same environment variables as the server.

use chrono::{Duration as ChronoDuration, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::auth::credentials;
use crate::auth::scheme::{AuthScheme, SecretKind};
use crate::config::{Config, parse_cidr};
use crate::store::sealing::SealError;
use crate::store::{
    Database, Idempotency, NewRegistration, RateLimit, ResponseSettings, migrations,
};

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
    /// Issue a new key or secret; the old ones stay valid for a grace period.
    #[command(alias = "rotate-key")]
    RotateSecret {
        id: String,
        /// Seconds the old keys or secrets stay valid.
        #[arg(long, default_value_t = 86_400)]
        grace_seconds: i64,
        /// The new signing secret, token or password instead of a generated one.
        #[arg(long, conflicts_with = "secret_stdin")]
        secret: Option<String>,
        /// Read the new secret from standard input.
        #[arg(long)]
        secret_stdin: bool,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Re-seal every signing secret under the current sealing key (after adding a new key).
    Reseal,
    /// Print a new random sealing key, for WEBHOOK_GATEWAY_SEALING_KEYS.
    GenerateSealingKey {
        /// The key's id.
        #[arg(long, default_value = "k1")]
        id: String,
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
    /// Issue a new key or secret even if the webhook exists (old ones stop working at once).
    #[arg(long, alias = "new-key")]
    pub new_secret: bool,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub protection: ProtectionArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// How callers authenticate.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// api-key, standard-webhooks, github, gitlab, stripe, slack, shopify, hmac, basic or none.
    #[arg(long, default_value = "api-key")]
    pub auth: String,
    /// The signing secret, token or password to use instead of a generated one.
    #[arg(long, conflicts_with = "secret_stdin")]
    pub secret: Option<String>,
    /// Read the secret from standard input (keeps it out of the shell history).
    #[arg(long)]
    pub secret_stdin: bool,
    /// Accepted clock difference for timestamped signatures, in seconds (default 300).
    #[arg(long)]
    pub tolerance_seconds: Option<u64>,
    /// Generic HMAC: the header carrying the signature.
    #[arg(long)]
    pub hmac_header: Option<String>,
    /// Generic HMAC: sha256, sha512, or sha1 (only if the sender offers nothing better).
    #[arg(long)]
    pub hmac_algorithm: Option<String>,
    /// Generic HMAC: hex or base64.
    #[arg(long)]
    pub hmac_encoding: Option<String>,
    /// Generic HMAC: text before the signature, such as `sha256=`.
    #[arg(long)]
    pub hmac_prefix: Option<String>,
    /// Generic HMAC: the header carrying the signing timestamp.
    #[arg(long)]
    pub hmac_timestamp_header: Option<String>,
    /// Generic HMAC: what is signed, from `{timestamp}` and `{body}` (default `{body}`).
    #[arg(long)]
    pub hmac_signed_content: Option<String>,
    /// Basic authentication: the user name.
    #[arg(long)]
    pub basic_username: Option<String>,
}

/// Abuse controls and the answer to senders.
#[derive(Debug, Args)]
pub struct ProtectionArgs {
    /// Source network allowed to call, in CIDR notation (repeatable; none allows all).
    #[arg(long = "allow-cidr")]
    pub allow_cidrs: Vec<String>,
    /// Calls per second allowed (shared by every gateway replica).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Calls allowed at once above the rate (default: the rate).
    #[arg(long, requires = "rate_limit")]
    pub burst: Option<u32>,
    /// Request header holding the sender's event id, for duplicate suppression.
    #[arg(long)]
    pub idempotency_header: Option<String>,
    /// JSON pointer to the sender's event id in the payload, e.g. `/id`.
    #[arg(long)]
    pub idempotency_json_pointer: Option<String>,
    /// How long an event id is remembered (default: the gateway's, one day).
    #[arg(long)]
    pub dedupe_ttl_seconds: Option<u32>,
    /// Status of the answer to an accepted call: 200, 202 or 204.
    #[arg(long, default_value_t = 202)]
    pub response_status: u16,
    /// Fixed body of the answer to an accepted call.
    #[arg(long)]
    pub response_body: Option<String>,
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
        Command::RotateSecret {
            id,
            grace_seconds,
            secret,
            secret_stdin,
            output,
        } => {
            if grace_seconds < 0 {
                return Err(CommandError::Invalid(
                    "--grace-seconds must not be negative".into(),
                ));
            }
            let registration = database.find(&id).await?.ok_or_else(|| not_found(&id))?;
            let given = given_secret(secret, secret_stdin)?;
            let expiry = Utc::now() + ChronoDuration::seconds(grace_seconds);
            let auth = &registration.auth;
            let issued = issue_secret(config, &database, &id, auth, given, Some(expiry)).await?;
            print_access(config, &id, auth, issued.as_deref(), output);
        }
        Command::Reseal => reseal(config, &database).await?,
        Command::GenerateSealingKey { .. } => unreachable!("needs no database"),
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
    let auth = auth_scheme(&args.auth)?;
    let protection = &args.protection;
    let allowed_cidrs = protection
        .allow_cidrs
        .iter()
        .map(|cidr| {
            parse_cidr(cidr).ok_or_else(|| {
                CommandError::Invalid(format!("--allow-cidr {cidr:?} is not a CIDR"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let given = given_secret(args.auth.secret.clone(), args.auth.secret_stdin)?;

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
        auth: auth.clone(),
        allowed_cidrs,
        rate_limit: protection.rate_limit.map(|per_second| RateLimit {
            per_second,
            burst: protection.burst.unwrap_or(per_second),
        }),
        idempotency: Idempotency {
            header: protection
                .idempotency_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
            json_pointer: protection.idempotency_json_pointer.clone(),
            ttl_seconds: protection.dedupe_ttl_seconds,
        },
        response: ResponseSettings {
            status: protection.response_status,
            body: protection.response_body.clone(),
        },
        managed_by: "cli".into(),
    };
    let problems = registration.problems();
    if !problems.is_empty() {
        let listed: Vec<String> = problems
            .iter()
            .map(|(field, problem)| format!("{field}: {problem}"))
            .collect();
        return Err(CommandError::Invalid(listed.join("; ")));
    }
    let created = database.upsert(&registration).await?;
    let issued = if created || args.new_secret || given.is_some() {
        let revoke_old = (!created).then(Utc::now);
        issue_secret(config, database, &args.id, &auth, given, revoke_old).await?
    } else {
        None
    };
    print_access(config, &args.id, &auth, issued.as_deref(), args.output);
    Ok(())
}

/// The auth settings the arguments describe, checked.
fn auth_scheme(args: &AuthArgs) -> Result<AuthScheme, CommandError> {
    let lower = |value: &Option<String>| value.as_ref().map(|v| json!(v.to_ascii_lowercase()));
    let text = |value: &Option<String>| value.as_ref().map(|v| json!(v));
    let fields = [
        (
            "tolerance_seconds",
            args.tolerance_seconds.map(|t| json!(t)),
        ),
        ("header", lower(&args.hmac_header)),
        ("algorithm", text(&args.hmac_algorithm)),
        ("encoding", text(&args.hmac_encoding)),
        ("prefix", text(&args.hmac_prefix)),
        ("timestamp_header", lower(&args.hmac_timestamp_header)),
        ("signed_content", text(&args.hmac_signed_content)),
        ("username", text(&args.basic_username)),
    ];
    let mut settings = serde_json::Map::new();
    settings.insert("type".into(), json!(args.auth));
    for (name, value) in fields {
        if let Some(value) = value {
            settings.insert(name.into(), value);
        }
    }
    let invalid =
        |problem: String| CommandError::Invalid(format!("--auth {}: {problem}", args.auth));
    let scheme: AuthScheme = serde_json::from_value(serde_json::Value::Object(settings))
        .map_err(|e| invalid(e.to_string()))?;
    Ok(scheme)
}

fn given_secret(secret: Option<String>, from_stdin: bool) -> Result<Option<String>, CommandError> {
    let secret = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_line(&mut text)
            .map_err(|e| CommandError::Invalid(format!("could not read the secret: {e}")))?;
        Some(text.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        secret
    };
    match secret {
        Some(secret) if secret.is_empty() => {
            Err(CommandError::Invalid("the secret is empty".into()))
        }
        other => Ok(other),
    }
}

async fn issue_secret(
    config: &Config,
    database: &Database,
    id: &str,
    auth: &AuthScheme,
    given: Option<String>,
    old_expire_at: Option<chrono::DateTime<Utc>>,
) -> Result<Option<String>, CommandError> {
    let sealing = &config.protection.sealing;
    credentials::issue(sealing, database, id, auth, given, old_expire_at)
        .await
        .map_err(|e| CommandError::Invalid(e.to_string()))
}

/// Moves every signing secret under the current sealing key.
async fn reseal(config: &Config, database: &Database) -> Result<(), CommandError> {
    let sealing = &config.protection.sealing;
    let current = sealing
        .current_id()
        .ok_or_else(|| CommandError::Invalid("no sealing key is configured".into()))?;
    let mut moved = 0;
    for stored in database.signing_secrets().await? {
        let (Some(key_id), Some(sealed)) = (&stored.key_id, &stored.sealed) else {
            continue;
        };
        if key_id == current {
            continue;
        }
        let failed =
            |e: SealError| CommandError::Invalid(format!("webhook {}: {e}", stored.webhook_id));
        let secret = sealing
            .open(&stored.webhook_id, key_id, sealed)
            .map_err(failed)?;
        let (new_id, resealed) = sealing.seal(&stored.webhook_id, &secret).map_err(failed)?;
        database.reseal(stored.id, &new_id, &resealed).await?;
        moved += 1;
    }
    println!("re-sealed {moved} signing secret(s) under key {current}");
    Ok(())
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

/// Prints the webhook URL and, when freshly issued, its key or secret and a ready `curl` line.
fn print_access(
    config: &Config,
    id: &str,
    auth: &AuthScheme,
    secret: Option<&str>,
    output: Output,
) {
    let url = format!("{}/webhooks/{id}", config.server.public_url);
    let is_key = *auth == AuthScheme::ApiKey;
    if let Output::Json = output {
        let (key, secret) = if is_key {
            (secret, None)
        } else {
            (None, secret)
        };
        let printed =
            json!({ "id": id, "url": url, "auth": auth.name(), "apiKey": key, "secret": secret });
        println!("{printed}");
        return;
    }
    println!("webhook:  {id}");
    println!("url:      {url}");
    println!("auth:     {}", auth.name());
    match secret {
        Some(key) if is_key => {
            println!("api key:  {key}   (shown once; only its hash is stored)");
            println!(
                "curl:     curl -i -X POST '{url}' -H 'Content-Type: application/json' \
                 -H 'X-API-Key: {key}' -d '{{\"hello\":\"world\"}}'"
            );
        }
        Some(secret) => println!("secret:   {secret}   (shown once; give it to the sender)"),
        None if auth.secret_kind() != SecretKind::Nothing => {
            println!("secret:   unchanged (use --new-secret or rotate-secret to issue one)")
        }
        None => {}
    }
}
