//! Gateway configuration, read from the environment variables of the FlowX webhook-gateway
//! service (names and defaults unchanged) plus a few `WEBHOOK_GATEWAY_*` settings of our own.
//!
//! Reading is a pure function over a variable lookup so it can be tested without touching the
//! process environment. Any missing or malformed value is reported as one [`ConfigError`] that
//! names the variable and never repeats a secret value.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::store::sealing::SealingKeys;

/// A configuration problem: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, without its value when the value is secret.
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// A value that must never be printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself; call only where it is handed to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Everything the gateway needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub kafka: KafkaConfig,
    pub cache: CacheConfig,
    pub logging: LoggingConfig,
    pub protection: ProtectionConfig,
    pub security: SecurityConfig,
}

/// How `/api/**` callers are authenticated and authorized.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// `SECURITY_TYPE`: `oauth2` (introspection at the provider) or `jwt-public-key` (local
    /// validation against the provider's keys).
    pub mode: TokenMode,
    /// `{SECURITY_OAUTH2_BASE_SERVER_URL}/realms/{SECURITY_OAUTH2_REALM}`; `None` leaves the
    /// management API switched off.
    pub realm_url: Option<String>,
    /// Client for token introspection (`SECURITY_OAUTH2_CLIENT_CLIENT_ID` / `_SECRET`).
    pub client_id: String,
    pub client_secret: Secret,
    /// The gateway's own service account (`SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID` /
    /// `_SECRET`) and its token endpoint
    /// (`SPRING_SECURITY_OAUTH2_CLIENT_PROVIDER_MAINAUTHPROVIDER_TOKEN_URI`).
    pub service_account_id: String,
    pub service_account_secret: Secret,
    pub token_uri: Option<String>,
    /// Audience an access token must carry (`WEBHOOK_GATEWAY_API_AUDIENCE`).
    pub audience: String,
    /// Signature algorithms accepted in local validation (`WEBHOOK_GATEWAY_API_ALGORITHMS`).
    pub algorithms: Vec<String>,
    /// SpiceDB (`FLOWX_LIB_CASCLIENT_SPICEDB_HOST`, `_PORT`, `_TOKEN`).
    pub spicedb_host: String,
    pub spicedb_port: u16,
    pub spicedb_token: Secret,
    /// Object type of workspaces and of token subjects in SpiceDB.
    pub workspace_type: String,
    pub subject_type: String,
    /// Permissions checked for reading and for changing a workspace's webhooks.
    pub view_permission: String,
    pub manage_permission: String,
    /// How long an authorization decision is reused (`WEBHOOK_GATEWAY_AUTHZ_CACHE_MS`).
    pub decision_ttl: Duration,
}

/// How bearer tokens are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMode {
    Introspection,
    LocalKeys,
}

/// Keys for secrets at rest and the limits that protect the gateway from its callers.
#[derive(Debug, Clone)]
pub struct ProtectionConfig {
    /// Keys sealing signing secrets (`WEBHOOK_GATEWAY_SEALING_KEYS`, `id:base64key,...`;
    /// `WEBHOOK_GATEWAY_SEALING_KEY_ID` names the one new secrets use).
    pub sealing: SealingKeys,
    /// Proxies whose `X-Forwarded-For` is believed (`WEBHOOK_GATEWAY_TRUSTED_PROXIES`, CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// Longest wait for a request's headers (`WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS`).
    pub header_timeout: Duration,
    /// Longest wait for a request's whole body (`WEBHOOK_GATEWAY_BODY_TIMEOUT_MS`).
    pub body_timeout: Duration,
    /// Most open connections per worker thread (`WEBHOOK_GATEWAY_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// How long an event id is remembered for duplicate suppression unless a webhook says
    /// otherwise (`WEBHOOK_GATEWAY_DEDUPE_TTL_SECONDS`).
    pub dedupe_ttl: Duration,
}

/// HTTP listener and request handling.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address the HTTP server binds (`SERVER_ADDRESS`, `SERVER_PORT`; default `0.0.0.0:8080`).
    pub bind: SocketAddr,
    /// Public base URL used to print webhook URLs (`WEBHOOK_GATEWAY_PUBLIC_URL`).
    pub public_url: String,
    /// Largest accepted webhook body in bytes (`WEBHOOK_GATEWAY_MAX_BODY_BYTES`, default 1 MiB).
    pub max_body_bytes: usize,
    /// Time between failing readiness and closing the listener on SIGTERM
    /// (`WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS`), so load balancers stop sending first.
    pub shutdown_delay: Duration,
    /// Longest wait for in-flight requests on shutdown (`WEBHOOK_GATEWAY_SHUTDOWN_TIMEOUT_MS`).
    pub shutdown_timeout: Duration,
    /// HTTP worker threads (`WEBHOOK_GATEWAY_WORKERS`; default: one per core).
    pub workers: usize,
}

/// PostgreSQL holding the webhook registrations.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// Host, port and database parsed from the JDBC URL.
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: Secret,
    /// `sslmode` from the JDBC URL, if given.
    pub ssl_mode: Option<String>,
    /// Maximum connections in the pool (`WEBHOOK_GATEWAY_DB_POOL_SIZE`).
    pub pool_size: usize,
}

impl DatabaseConfig {
    /// The database settings alone, from the same variables as [`Config::from_lookup`] reads
    /// (`SPRING_DATASOURCE_*`, `WEBHOOK_GATEWAY_DB_POOL_SIZE`).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        database(&Env { lookup })
    }

    /// A libpq-style URL for the PostgreSQL client, password included.
    pub fn connection_url(&self) -> String {
        let user = utf8_percent_encode(&self.username, NON_ALPHANUMERIC);
        let password = utf8_percent_encode(self.password.expose(), NON_ALPHANUMERIC);
        let mut url = format!(
            "postgres://{user}:{password}@{}:{}/{}",
            self.host, self.port, self.database
        );
        if let Some(mode) = &self.ssl_mode {
            url.push_str("?sslmode=");
            url.push_str(mode);
        }
        url
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field(
                "address",
                &format!("{}:{}/{}", self.host, self.port, self.database),
            )
            .field("username", &self.username)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

/// Redis, the shared registration cache.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
    /// Time a cached registration lives in Redis (`REDIS_TTL`, milliseconds).
    pub ttl: Duration,
}

impl RedisConfig {
    /// A `redis://` URL, password included.
    pub fn connection_url(&self) -> String {
        match &self.password {
            Some(password) => {
                let password = utf8_percent_encode(password.expose(), NON_ALPHANUMERIC);
                format!("redis://:{password}@{}:{}/", self.host, self.port)
            }
            None => format!("redis://{}:{}/", self.host, self.port),
        }
    }
}

/// How the gateway talks to Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    /// SASL over plain TCP with the OAUTHBEARER mechanism.
    SaslPlaintext,
}

/// OAuth2 client credentials for SASL OAUTHBEARER.
#[derive(Debug, Clone)]
pub struct KafkaOAuth {
    pub client_id: String,
    pub client_secret: Secret,
    pub token_endpoint_uri: String,
}

/// Kafka producer settings and the start topic.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub security_protocol: SecurityProtocol,
    /// Wait before retrying after an authentication failure (`KAFKA_AUTHEXCEPTIONRETRYINTERVAL`).
    pub auth_exception_retry_interval: Duration,
    /// Present when the protocol is `SASL_PLAINTEXT`.
    pub oauth: Option<KafkaOAuth>,
    /// Topic that starts processes (`KAFKA_TOPIC_PROCESS_START_OUT` or the naming variables).
    pub start_topic: String,
    /// Longest wait for the broker's acknowledgement (`WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS`).
    pub publish_timeout: Duration,
}

/// In-process registration cache.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Lifetime of a registration in the in-process cache (`WEBHOOK_GATEWAY_LOCAL_CACHE_TTL_MS`).
    pub local_ttl: Duration,
    /// Lifetime of a "no such webhook" answer, in-process and in Redis
    /// (`WEBHOOK_GATEWAY_NEGATIVE_CACHE_TTL_MS`).
    pub negative_ttl: Duration,
    /// Most registrations kept in-process (`WEBHOOK_GATEWAY_LOCAL_CACHE_CAPACITY`).
    pub local_capacity: u64,
}

/// Log levels in Spring Boot's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The directive understood by `tracing_subscriber::EnvFilter`.
    pub fn as_directive(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl FromStr for LogLevel {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        match value.trim().to_ascii_uppercase().as_str() {
            "OFF" => Ok(Self::Off),
            "ERROR" | "FATAL" => Ok(Self::Error),
            "WARN" | "WARNING" => Ok(Self::Warn),
            "INFO" => Ok(Self::Info),
            "DEBUG" => Ok(Self::Debug),
            "TRACE" | "ALL" => Ok(Self::Trace),
            _ => Err(()),
        }
    }
}

/// `LOGGING_LEVEL_ROOT` for libraries, `LOGGING_LEVEL_APP` for the gateway itself.
#[derive(Debug, Clone, Copy)]
pub struct LoggingConfig {
    pub root: LogLevel,
    pub app: LogLevel,
}

/// Variables that carry secrets: their values are never echoed in errors.
const SECRET_VARIABLES: &[&str] = &[
    "SPRING_DATASOURCE_PASSWORD",
    "SPRING_DATA_REDIS_PASSWORD",
    "SPRING_REDIS_PASSWORD",
    "KAFKA_OAUTH_CLIENT_SECRET",
    "WEBHOOK_GATEWAY_SEALING_KEYS",
    "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
    "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET",
    "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
];

/// Signature algorithms accepted by default: asymmetric only, so a public key can never be
/// used as an HMAC secret.
const DEFAULT_ALGORITHMS: &str = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384";

/// The default start topic name parts, joined with the naming separators.
const START_TOPIC_WORDS: &[&[&str]] = &[
    &["core"],
    &["trigger"],
    &["start", "for", "event"],
    &["process"],
];

struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    /// A variable's value; unset and empty both count as absent.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// A variable's raw value, empty kept (naming separators may legitimately be empty).
    fn get_raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    fn parse<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| {
                let shown = if SECRET_VARIABLES.contains(&name) {
                    String::new()
                } else {
                    format!(" {raw:?}")
                };
                ConfigError::new(name, format!("expected {expected}, got{shown}"))
            }),
        }
    }

    fn millis(&self, name: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default_ms, "a whole number of milliseconds")
            .map(Duration::from_millis)
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value if set.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env { lookup };
        Ok(Self {
            server: server(&env)?,
            database: database(&env)?,
            redis: redis(&env)?,
            kafka: kafka(&env)?,
            cache: cache(&env)?,
            logging: logging(&env)?,
            protection: protection(&env)?,
            security: security(&env)?,
        })
    }
}

fn server(env: &Env) -> Result<ServerConfig, ConfigError> {
    let address: IpAddr = env.parse(
        "SERVER_ADDRESS",
        IpAddr::from([0, 0, 0, 0]),
        "an IP address",
    )?;
    let port: u16 = env.parse("SERVER_PORT", 8080, "a TCP port number")?;
    let public_url = env
        .or(
            "WEBHOOK_GATEWAY_PUBLIC_URL",
            &format!("http://localhost:{port}"),
        )
        .trim()
        .to_owned();
    let parsed = url::Url::parse(&public_url)
        .map_err(|e| ConfigError::new("WEBHOOK_GATEWAY_PUBLIC_URL", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_PUBLIC_URL",
            "must be an http or https URL",
        ));
    }
    let max_body_bytes: usize = env.parse(
        "WEBHOOK_GATEWAY_MAX_BODY_BYTES",
        1024 * 1024,
        "a number of bytes",
    )?;
    if max_body_bytes == 0 {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_MAX_BODY_BYTES",
            "must be greater than 0",
        ));
    }
    let default_workers = std::thread::available_parallelism().map_or(2, usize::from);
    let workers: usize = env.parse(
        "WEBHOOK_GATEWAY_WORKERS",
        default_workers,
        "a number of threads",
    )?;
    if workers == 0 {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_WORKERS",
            "must be at least 1",
        ));
    }
    Ok(ServerConfig {
        bind: SocketAddr::new(address, port),
        public_url: public_url.trim_end_matches('/').to_owned(),
        max_body_bytes,
        shutdown_delay: env.millis("WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS", 2_000)?,
        shutdown_timeout: env.millis("WEBHOOK_GATEWAY_SHUTDOWN_TIMEOUT_MS", 30_000)?,
        workers,
    })
}

fn database(env: &Env) -> Result<DatabaseConfig, ConfigError> {
    const VAR: &str = "SPRING_DATASOURCE_URL";
    let jdbc = env.or(VAR, "jdbc:postgresql://postgresql:5432/webhook_gateway");
    let rest = jdbc.strip_prefix("jdbc:postgresql://").ok_or_else(|| {
        ConfigError::new(VAR, "expected a JDBC URL starting with jdbc:postgresql://")
    })?;
    let parsed = url::Url::parse(&format!("postgres://{rest}"))
        .map_err(|e| ConfigError::new(VAR, format!("not a valid JDBC URL: {e}")))?;
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| ConfigError::new(VAR, "the URL names no host"))?;
    if host.contains(',') {
        return Err(ConfigError::new(
            VAR,
            "several hosts in one URL are not supported",
        ));
    }
    let database = parsed.path().trim_start_matches('/');
    if database.is_empty() {
        return Err(ConfigError::new(VAR, "the URL names no database"));
    }
    let ssl_mode = parsed
        .query_pairs()
        .find(|(key, _)| key == "sslmode")
        .map(|(_, v)| v.into_owned());
    if let Some(mode) = &ssl_mode {
        if !matches!(mode.as_str(), "disable" | "allow" | "prefer") {
            return Err(ConfigError::new(
                VAR,
                format!("sslmode={mode} is not supported; use disable, allow or prefer"),
            ));
        }
    }
    let pool_size: usize =
        env.parse("WEBHOOK_GATEWAY_DB_POOL_SIZE", 8, "a number of connections")?;
    if pool_size == 0 {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_DB_POOL_SIZE",
            "must be at least 1",
        ));
    }
    Ok(DatabaseConfig {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: parsed.port().unwrap_or(5432),
        database: database.to_owned(),
        username: env.or("SPRING_DATASOURCE_USERNAME", "flowx"),
        password: Secret::new(env.get("SPRING_DATASOURCE_PASSWORD").unwrap_or_default()),
        ssl_mode,
        pool_size,
    })
}

fn redis(env: &Env) -> Result<RedisConfig, ConfigError> {
    let modern_or_legacy = |suffix: &str| -> (&'static str, Option<String>) {
        let modern: &'static str = match suffix {
            "HOST" => "SPRING_DATA_REDIS_HOST",
            "PORT" => "SPRING_DATA_REDIS_PORT",
            _ => "SPRING_DATA_REDIS_PASSWORD",
        };
        let legacy: &'static str = match suffix {
            "HOST" => "SPRING_REDIS_HOST",
            "PORT" => "SPRING_REDIS_PORT",
            _ => "SPRING_REDIS_PASSWORD",
        };
        match env.get(modern) {
            Some(value) => (modern, Some(value)),
            None => (legacy, env.get(legacy)),
        }
    };
    let (_, host) = modern_or_legacy("HOST");
    let (port_var, port) = modern_or_legacy("PORT");
    let port = match port {
        None => 6379,
        Some(raw) => raw.trim().parse().map_err(|_| {
            ConfigError::new(port_var, format!("expected a TCP port number, got {raw:?}"))
        })?,
    };
    let (_, password) = modern_or_legacy("PASSWORD");
    let ttl = env.millis("REDIS_TTL", 5_000_000)?;
    if ttl.is_zero() {
        return Err(ConfigError::new("REDIS_TTL", "must be greater than 0"));
    }
    Ok(RedisConfig {
        host: host.unwrap_or_else(|| "localhost".to_owned()),
        port,
        password: password.map(Secret::new),
        ttl,
    })
}

fn kafka(env: &Env) -> Result<KafkaConfig, ConfigError> {
    let profiles = env.or("SPRING_PROFILES_ACTIVE", "");
    let kafka_auth_profile = profiles
        .split(',')
        .any(|profile| profile.trim() == "kafka-auth");
    let default_protocol = if kafka_auth_profile {
        "SASL_PLAINTEXT"
    } else {
        "PLAINTEXT"
    };
    let security_protocol = match env
        .or("SPRING_KAFKA_SECURITY_PROTOCOL", default_protocol)
        .trim()
    {
        "PLAINTEXT" => SecurityProtocol::Plaintext,
        "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
        other => {
            return Err(ConfigError::new(
                "SPRING_KAFKA_SECURITY_PROTOCOL",
                format!("expected PLAINTEXT or SASL_PLAINTEXT, got {other:?}"),
            ));
        }
    };
    let oauth = (security_protocol == SecurityProtocol::SaslPlaintext).then(|| KafkaOAuth {
        client_id: env.or("KAFKA_OAUTH_CLIENT_ID", "kafka"),
        client_secret: Secret::new(env.or("KAFKA_OAUTH_CLIENT_SECRET", "kafka-secret")),
        token_endpoint_uri: env.or("KAFKA_OAUTH_TOKEN_ENDPOINT_URI", "kafka.auth.localhost"),
    });
    let bootstrap_servers = env.or("SPRING_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092");
    for server in bootstrap_servers.split(',') {
        let ok = server
            .trim()
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !ok {
            return Err(ConfigError::new(
                "SPRING_KAFKA_BOOTSTRAP_SERVERS",
                format!("expected a comma-separated list of host:port, got {server:?}"),
            ));
        }
    }
    let auth_retry_seconds: u64 = env.parse(
        "KAFKA_AUTHEXCEPTIONRETRYINTERVAL",
        10,
        "a whole number of seconds",
    )?;
    let start_topic = match env.get("KAFKA_TOPIC_PROCESS_START_OUT") {
        Some(topic) => topic.trim().to_owned(),
        None => default_start_topic(env),
    };
    validate_topic(&start_topic)?;
    let publish_timeout = env.millis("WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS", 5_000)?;
    if publish_timeout < Duration::from_millis(100) {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS",
            "must be at least 100",
        ));
    }
    Ok(KafkaConfig {
        bootstrap_servers,
        security_protocol,
        auth_exception_retry_interval: Duration::from_secs(auth_retry_seconds),
        oauth,
        start_topic,
        publish_timeout,
    })
}

/// Builds `ai.flowx.core.trigger.start-for-event.process.v1` from the naming variables.
fn default_start_topic(env: &Env) -> String {
    let package = env
        .get_raw("KAFKA_TOPIC_NAMING_PACKAGE")
        .unwrap_or_else(|| "ai.flowx.".into());
    let environment = env
        .get_raw("KAFKA_TOPIC_NAMING_ENVIRONMENT")
        .unwrap_or_default();
    let version = env
        .get_raw("KAFKA_TOPIC_NAMING_VERSION")
        .unwrap_or_else(|| ".v1".into());
    let separator = env
        .get_raw("KAFKA_TOPIC_NAMING_SEPARATOR")
        .unwrap_or_else(|| ".".into());
    let separator2 = env
        .get_raw("KAFKA_TOPIC_NAMING_SEPARATOR2")
        .unwrap_or_else(|| "-".into());

    let mut topic = package;
    if !environment.is_empty() {
        topic.push_str(&environment);
        if !environment.ends_with(separator.as_str()) {
            topic.push_str(&separator);
        }
    }
    let words: Vec<String> = START_TOPIC_WORDS
        .iter()
        .map(|parts| parts.join(&separator2))
        .collect();
    topic.push_str(&words.join(&separator));
    topic.push_str(&version);
    topic
}

fn validate_topic(topic: &str) -> Result<(), ConfigError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty()
        || topic.len() > 249
        || !topic.chars().all(legal)
        || topic == "."
        || topic == ".."
    {
        return Err(ConfigError::new(
            "KAFKA_TOPIC_PROCESS_START_OUT",
            format!("{topic:?} is not a legal Kafka topic name (1-249 of [a-zA-Z0-9._-])"),
        ));
    }
    Ok(())
}

fn cache(env: &Env) -> Result<CacheConfig, ConfigError> {
    Ok(CacheConfig {
        local_ttl: env.millis("WEBHOOK_GATEWAY_LOCAL_CACHE_TTL_MS", 60_000)?,
        negative_ttl: env.millis("WEBHOOK_GATEWAY_NEGATIVE_CACHE_TTL_MS", 5_000)?,
        local_capacity: env.parse(
            "WEBHOOK_GATEWAY_LOCAL_CACHE_CAPACITY",
            100_000,
            "a number of entries",
        )?,
    })
}

fn protection(env: &Env) -> Result<ProtectionConfig, ConfigError> {
    let current = env.get("WEBHOOK_GATEWAY_SEALING_KEY_ID");
    let sealing = SealingKeys::parse(
        &env.or("WEBHOOK_GATEWAY_SEALING_KEYS", ""),
        current.as_deref(),
    )
    .map_err(|problem| ConfigError::new("WEBHOOK_GATEWAY_SEALING_KEYS", problem))?;
    let trusted_proxies = env
        .or("WEBHOOK_GATEWAY_TRUSTED_PROXIES", "")
        .split(',')
        .map(str::trim)
        .filter(|cidr| !cidr.is_empty())
        .map(|cidr| {
            parse_cidr(cidr).ok_or_else(|| {
                ConfigError::new(
                    "WEBHOOK_GATEWAY_TRUSTED_PROXIES",
                    format!("{cidr:?} is not a CIDR or IP"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let max_connections: usize = env.parse(
        "WEBHOOK_GATEWAY_MAX_CONNECTIONS",
        10_000,
        "a number of connections",
    )?;
    if max_connections == 0 {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_MAX_CONNECTIONS",
            "must be at least 1",
        ));
    }
    let dedupe_seconds: u64 = env.parse(
        "WEBHOOK_GATEWAY_DEDUPE_TTL_SECONDS",
        86_400,
        "a whole number of seconds",
    )?;
    Ok(ProtectionConfig {
        sealing,
        trusted_proxies,
        header_timeout: env.millis("WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS", 5_000)?,
        body_timeout: env.millis("WEBHOOK_GATEWAY_BODY_TIMEOUT_MS", 30_000)?,
        max_connections,
        dedupe_ttl: Duration::from_secs(dedupe_seconds.max(1)),
    })
}

fn security(env: &Env) -> Result<SecurityConfig, ConfigError> {
    let mode = match env.or("SECURITY_TYPE", "oauth2").trim() {
        "oauth2" => TokenMode::Introspection,
        "jwt-public-key" => TokenMode::LocalKeys,
        other => {
            return Err(ConfigError::new(
                "SECURITY_TYPE",
                format!("expected oauth2 or jwt-public-key, got {other:?}"),
            ));
        }
    };
    let base = env
        .get("SECURITY_OAUTH2_BASE_SERVER_URL")
        .map(|b| b.trim().trim_end_matches('/').to_owned());
    if let Some(base) = &base {
        let parsed = url::Url::parse(base).map_err(|e| {
            ConfigError::new("SECURITY_OAUTH2_BASE_SERVER_URL", format!("not a URL: {e}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError::new(
                "SECURITY_OAUTH2_BASE_SERVER_URL",
                "must be an http or https URL",
            ));
        }
    }
    let realm = env.get("SECURITY_OAUTH2_REALM");
    let realm_url = match (&base, &realm) {
        (Some(base), Some(realm)) => Some(format!("{base}/realms/{}", realm.trim())),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "SECURITY_OAUTH2_REALM",
                "must be set with SECURITY_OAUTH2_BASE_SERVER_URL",
            ));
        }
        _ => None,
    };
    let token_uri = env
        .get("SPRING_SECURITY_OAUTH2_CLIENT_PROVIDER_MAINAUTHPROVIDER_TOKEN_URI")
        .or_else(|| {
            realm_url
                .as_ref()
                .map(|realm| format!("{realm}/protocol/openid-connect/token"))
        });
    let algorithms: Vec<String> = env
        .or("WEBHOOK_GATEWAY_API_ALGORITHMS", DEFAULT_ALGORITHMS)
        .split(',')
        .map(|a| a.trim().to_ascii_uppercase())
        .filter(|a| !a.is_empty())
        .collect();
    if let Some(bad) = algorithms
        .iter()
        .find(|a| !DEFAULT_ALGORITHMS.split(',').any(|ok| ok == a.as_str()))
    {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_API_ALGORITHMS",
            format!("{bad} is not allowed; choose among {DEFAULT_ALGORITHMS}"),
        ));
    }
    let decision_ttl = env.millis("WEBHOOK_GATEWAY_AUTHZ_CACHE_MS", 2_000)?;
    if decision_ttl > Duration::from_secs(60) {
        return Err(ConfigError::new(
            "WEBHOOK_GATEWAY_AUTHZ_CACHE_MS",
            "must be at most 60000",
        ));
    }
    Ok(SecurityConfig {
        mode,
        realm_url,
        client_id: env.or("SECURITY_OAUTH2_CLIENT_CLIENT_ID", "webhook-gateway"),
        client_secret: Secret::new(env.or("SECURITY_OAUTH2_CLIENT_CLIENT_SECRET", "")),
        service_account_id: env.or(
            "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID",
            "flowx-webhook-gateway-sa",
        ),
        service_account_secret: Secret::new(
            env.or("SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET", ""),
        ),
        token_uri,
        audience: env.or("WEBHOOK_GATEWAY_API_AUDIENCE", "webhook-gateway"),
        algorithms,
        spicedb_host: env.or("FLOWX_LIB_CASCLIENT_SPICEDB_HOST", "spicedb"),
        spicedb_port: env.parse(
            "FLOWX_LIB_CASCLIENT_SPICEDB_PORT",
            50051,
            "a TCP port number",
        )?,
        spicedb_token: Secret::new(env.or("FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN", "")),
        workspace_type: env.or("WEBHOOK_GATEWAY_SPICEDB_WORKSPACE_TYPE", "workspace"),
        subject_type: env.or("WEBHOOK_GATEWAY_SPICEDB_SUBJECT_TYPE", "user"),
        view_permission: env.or("WEBHOOK_GATEWAY_SPICEDB_VIEW_PERMISSION", "view_webhooks"),
        manage_permission: env.or(
            "WEBHOOK_GATEWAY_SPICEDB_MANAGE_PERMISSION",
            "manage_webhooks",
        ),
        decision_ttl,
    })
}

/// Parses `10.0.0.0/8` or a bare address (a single-address network).
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn logging(env: &Env) -> Result<LoggingConfig, ConfigError> {
    let level = |name: &'static str| -> Result<LogLevel, ConfigError> {
        env.parse(
            name,
            LogLevel::Info,
            "one of OFF, ERROR, WARN, INFO, DEBUG, TRACE",
        )
    };
    Ok(LoggingConfig {
        root: level("LOGGING_LEVEL_ROOT")?,
        app: level("LOGGING_LEVEL_APP")?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_reference_guide() {
        let config = read(&[]).unwrap();
        assert_eq!(
            config.kafka.start_topic,
            "ai.flowx.core.trigger.start-for-event.process.v1"
        );
        assert_eq!(config.kafka.bootstrap_servers, "localhost:9092");
        assert_eq!(config.kafka.security_protocol, SecurityProtocol::Plaintext);
        assert_eq!(
            config.kafka.auth_exception_retry_interval,
            Duration::from_secs(10)
        );
        assert_eq!(config.database.host, "postgresql");
        assert_eq!(config.database.port, 5432);
        assert_eq!(config.database.database, "webhook_gateway");
        assert_eq!(config.database.username, "flowx");
        assert_eq!(config.redis.port, 6379);
        assert_eq!(config.redis.ttl, Duration::from_millis(5_000_000));
        assert_eq!(config.server.bind.port(), 8080);
        assert_eq!(config.server.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn topic_naming_variables_build_the_start_topic() {
        let config = read(&[
            ("KAFKA_TOPIC_NAMING_PACKAGE", "com.acme."),
            ("KAFKA_TOPIC_NAMING_ENVIRONMENT", "dev"),
            ("KAFKA_TOPIC_NAMING_VERSION", ".v2"),
        ])
        .unwrap();
        assert_eq!(
            config.kafka.start_topic,
            "com.acme.dev.core.trigger.start-for-event.process.v2"
        );
    }

    #[test]
    fn explicit_start_topic_wins_over_naming() {
        let config = read(&[
            ("KAFKA_TOPIC_PROCESS_START_OUT", "my.topic"),
            ("KAFKA_TOPIC_NAMING_PACKAGE", "com.acme."),
        ])
        .unwrap();
        assert_eq!(config.kafka.start_topic, "my.topic");
    }

    #[test]
    fn jdbc_url_becomes_a_postgres_url() {
        let config = read(&[
            (
                "SPRING_DATASOURCE_URL",
                "jdbc:postgresql://db.example:6543/hooks?sslmode=disable",
            ),
            ("SPRING_DATASOURCE_USERNAME", "gw"),
            ("SPRING_DATASOURCE_PASSWORD", "p@ss/word"),
        ])
        .unwrap();
        assert_eq!(
            config.database.connection_url(),
            "postgres://gw:p%40ss%2Fword@db.example:6543/hooks?sslmode=disable"
        );
    }

    #[test]
    fn rejects_a_non_jdbc_datasource_url() {
        let err = read(&[("SPRING_DATASOURCE_URL", "postgres://x/y")]).unwrap_err();
        assert_eq!(err.variable, "SPRING_DATASOURCE_URL");
    }

    #[test]
    fn rejects_unsupported_ssl_mode_naming_the_variable() {
        let err = read(&[(
            "SPRING_DATASOURCE_URL",
            "jdbc:postgresql://h/db?sslmode=verify-full",
        )])
        .unwrap_err();
        assert_eq!(err.variable, "SPRING_DATASOURCE_URL");
        assert!(err.problem.contains("verify-full"));
    }

    #[test]
    fn legacy_redis_variables_are_accepted() {
        let config = read(&[
            ("SPRING_REDIS_HOST", "cache"),
            ("SPRING_REDIS_PORT", "6380"),
        ])
        .unwrap();
        assert_eq!(config.redis.host, "cache");
        assert_eq!(config.redis.port, 6380);
    }

    #[test]
    fn modern_redis_variables_win_over_legacy() {
        let config = read(&[
            ("SPRING_REDIS_HOST", "old"),
            ("SPRING_DATA_REDIS_HOST", "new"),
        ])
        .unwrap();
        assert_eq!(config.redis.host, "new");
    }

    #[test]
    fn malformed_redis_port_names_the_variable_used() {
        let err = read(&[("SPRING_REDIS_PORT", "sixty")]).unwrap_err();
        assert_eq!(err.variable, "SPRING_REDIS_PORT");
    }

    #[test]
    fn malformed_ttl_is_rejected() {
        let err = read(&[("REDIS_TTL", "5m")]).unwrap_err();
        assert_eq!(err.variable, "REDIS_TTL");
    }

    #[test]
    fn sasl_plaintext_enables_oauth_with_defaults() {
        let config = read(&[("SPRING_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")]).unwrap();
        let oauth = config.kafka.oauth.unwrap();
        assert_eq!(oauth.client_id, "kafka");
        assert_eq!(oauth.token_endpoint_uri, "kafka.auth.localhost");
    }

    #[test]
    fn kafka_auth_profile_switches_to_sasl() {
        let config = read(&[("SPRING_PROFILES_ACTIVE", "prod,kafka-auth")]).unwrap();
        assert_eq!(
            config.kafka.security_protocol,
            SecurityProtocol::SaslPlaintext
        );
    }

    #[test]
    fn unknown_security_protocol_is_rejected() {
        let err = read(&[("SPRING_KAFKA_SECURITY_PROTOCOL", "SSL")]).unwrap_err();
        assert_eq!(err.variable, "SPRING_KAFKA_SECURITY_PROTOCOL");
    }

    #[test]
    fn bootstrap_servers_need_host_and_port() {
        let err = read(&[("SPRING_KAFKA_BOOTSTRAP_SERVERS", "broker1:9092,broker2")]).unwrap_err();
        assert_eq!(err.variable, "SPRING_KAFKA_BOOTSTRAP_SERVERS");
    }

    #[test]
    fn illegal_topic_is_rejected() {
        let err = read(&[("KAFKA_TOPIC_PROCESS_START_OUT", "bad topic!")]).unwrap_err();
        assert_eq!(err.variable, "KAFKA_TOPIC_PROCESS_START_OUT");
    }

    #[test]
    fn sealing_keys_and_trusted_proxies_are_read() {
        let key = SealingKeys::generate("k1");
        let config = read(&[
            ("WEBHOOK_GATEWAY_SEALING_KEYS", &key),
            ("WEBHOOK_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
        ])
        .unwrap();
        assert_eq!(config.protection.sealing.current_id(), Some("k1"));
        assert_eq!(config.protection.trusted_proxies.len(), 2);
        let err = read(&[("WEBHOOK_GATEWAY_TRUSTED_PROXIES", "not-a-net")]).unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_GATEWAY_TRUSTED_PROXIES");
    }

    #[test]
    fn malformed_sealing_keys_stop_start_up_without_echoing_them() {
        let err = read(&[("WEBHOOK_GATEWAY_SEALING_KEYS", "k1:c2hvcnQ=")]).unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_GATEWAY_SEALING_KEYS");
        assert!(!err.problem.contains("c2hvcnQ="));
    }

    #[test]
    fn the_service_account_token_uri_defaults_to_the_realm() {
        let config = read(&[
            ("SECURITY_OAUTH2_BASE_SERVER_URL", "https://kc.example/"),
            ("SECURITY_OAUTH2_REALM", "flowx"),
        ])
        .unwrap();
        assert_eq!(
            config.security.realm_url.as_deref(),
            Some("https://kc.example/realms/flowx")
        );
        assert_eq!(
            config.security.token_uri.as_deref(),
            Some("https://kc.example/realms/flowx/protocol/openid-connect/token")
        );
        assert_eq!(
            config.security.service_account_id,
            "flowx-webhook-gateway-sa"
        );
        assert_eq!(config.security.spicedb_port, 50051);
    }

    #[test]
    fn symmetric_and_none_algorithms_cannot_be_allowed() {
        for algorithm in ["HS256", "none"] {
            let err = read(&[("WEBHOOK_GATEWAY_API_ALGORITHMS", algorithm)]).unwrap_err();
            assert_eq!(err.variable, "WEBHOOK_GATEWAY_API_ALGORITHMS");
        }
        let err = read(&[("SECURITY_TYPE", "basic")]).unwrap_err();
        assert_eq!(err.variable, "SECURITY_TYPE");
    }

    #[test]
    fn log_levels_use_spring_names() {
        let config = read(&[
            ("LOGGING_LEVEL_ROOT", "warn"),
            ("LOGGING_LEVEL_APP", "DEBUG"),
        ])
        .unwrap();
        assert_eq!(config.logging.root, LogLevel::Warn);
        assert_eq!(config.logging.app, LogLevel::Debug);
        let err = read(&[("LOGGING_LEVEL_APP", "LOUD")]).unwrap_err();
        assert_eq!(err.variable, "LOGGING_LEVEL_APP");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let config = read(&[
            ("SPRING_DATASOURCE_PASSWORD", "db-secret-value"),
            ("SPRING_DATA_REDIS_PASSWORD", "redis-secret-value"),
            ("SPRING_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("KAFKA_OAUTH_CLIENT_SECRET", "kafka-secret-value"),
        ])
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("db-secret-value"));
        assert!(!printed.contains("redis-secret-value"));
        assert!(!printed.contains("kafka-secret-value"));
    }
}
