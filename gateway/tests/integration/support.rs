//! Helpers for tests against the real local stack started by `e2e/stack/up.sh`: throwaway
//! databases and topics, gateway processes, private Redis and broker instances for fault tests.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

/// The sealing key every gateway and command of this test run shares.
pub fn sealing_keys() -> &'static str {
    static KEYS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| webhook_gateway::store::sealing::SealingKeys::generate("test"))
}

/// A variable the stack's env file provides; tests cannot run without it.
pub fn stack_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the stack with e2e/stack/up.sh and source its env file")
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database of its own for one test; it goes away with the stack's data directory.
pub struct TestDatabase {
    pub jdbc_url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = unique("whgw_test").replace('-', "_");
        let (client, connection) =
            tokio_postgres::connect(&stack_var("WHGW_PG_ADMIN_URL"), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE DATABASE {name} OWNER {}",
                stack_var("SPRING_DATASOURCE_USERNAME")
            ))
            .await
            .unwrap();
        let base = stack_var("SPRING_DATASOURCE_URL");
        let server = base.rsplit_once('/').unwrap().0;
        Self {
            jdbc_url: format!("{server}/{name}"),
        }
    }

    /// A client connected as the gateway's user, for inspecting rows.
    pub async fn client(&self) -> tokio_postgres::Client {
        let url = self.jdbc_url.trim_start_matches("jdbc:");
        let url = url.replacen(
            "postgresql://",
            &format!(
                "postgresql://{}:{}@",
                stack_var("SPRING_DATASOURCE_USERNAME"),
                stack_var("SPRING_DATASOURCE_PASSWORD")
            ),
            1,
        );
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

/// Creates a one-partition topic on `bootstrap` and returns its name.
pub async fn create_topic(bootstrap: &str) -> String {
    let topic = unique("test.webhooks");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let results = admin
            .create_topics(
                &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(5))),
            )
            .await;
        match results {
            Ok(results) if results.iter().all(|r| r.is_ok()) => return topic,
            other if Instant::now() > deadline => {
                panic!("could not create topic {topic}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

static MARKER: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| serde_json::json!({ "readBackMarker": true }));

/// Writes a marker record: the broker may not show a topic's latest batch to readers until a
/// later record arrives, so reading back first appends one (and skips it).
fn write_marker(bootstrap: &str, topic: &str) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create()
        .unwrap();
    let marker = MARKER.to_string();
    producer
        .send(BaseRecord::<(), _>::to(topic).payload(&marker))
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<String>,
    pub value: Value,
    pub headers: HashMap<String, String>,
}

/// Reads every record of partition 0 of `topic` until `idle` passes without a new one
/// (or `expected` records have arrived).
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    expected: Option<usize>,
    idle: Duration,
) -> Vec<Record> {
    write_marker(bootstrap, topic);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .set("fetch.message.max.bytes", "4194304")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();

    let mut records = Vec::new();
    let mut last_seen = Instant::now();
    let hard_deadline = Instant::now() + Duration::from_secs(120);
    while last_seen.elapsed() < idle && Instant::now() < hard_deadline {
        if expected.is_some_and(|n| records.len() >= n) {
            break;
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_seen = Instant::now();
                let mut headers = HashMap::new();
                if let Some(list) = message.headers() {
                    for header in list.iter() {
                        let value = header
                            .value
                            .map(|v| String::from_utf8_lossy(v).into_owned());
                        headers.insert(header.key.to_owned(), value.unwrap_or_default());
                    }
                }
                let value: Value =
                    serde_json::from_slice(message.payload().unwrap_or(b"null")).unwrap();
                if value == *MARKER {
                    continue;
                }
                records.push(Record {
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                    value,
                    headers,
                });
            }
            Some(Err(_)) | None => {}
        }
    }
    records
}

/// A running `webhook-gateway` process; killed when dropped.
pub struct Gateway {
    pub port: u16,
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gateway {
    /// The environment a gateway needs against the shared stack, with `database` and `topic`.
    pub fn stack_env(database: &TestDatabase, topic: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            "SPRING_DATASOURCE_USERNAME",
            "SPRING_DATASOURCE_PASSWORD",
            "SPRING_DATA_REDIS_HOST",
            "SPRING_DATA_REDIS_PORT",
            "SPRING_KAFKA_BOOTSTRAP_SERVERS",
        ]
        .iter()
        .map(|name| (name.to_string(), stack_var(name)))
        .collect();
        env.push(("SPRING_DATASOURCE_URL".into(), database.jdbc_url.clone()));
        env.push(("KAFKA_TOPIC_PROCESS_START_OUT".into(), topic.into()));
        env.push(("WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS".into(), "0".into()));
        env.push(("LOGGING_LEVEL_APP".into(), "DEBUG".into()));
        env.push(("WEBHOOK_GATEWAY_SEALING_KEYS".into(), sealing_keys().into()));
        env
    }

    /// Starts a gateway with `env` and waits until it is ready.
    pub async fn start(env: Vec<(String, String)>) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("gateway.log");
        let mut env = env;
        env.retain(|(name, _)| name != "SERVER_PORT");
        env.push(("SERVER_PORT".into(), port.to_string()));
        env.push(("SERVER_ADDRESS".into(), "127.0.0.1".into()));
        env.push((
            "WEBHOOK_GATEWAY_PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ));
        let child = command(&env)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let gateway = Self {
            port,
            env,
            child: Some(child),
            log,
            _dir: dir,
        };
        gateway.wait_ready().await;
        gateway
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = reqwest::get(self.url("/actuator/health/readiness")).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("gateway did not become ready; log:\n{}", self.log_text());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a process that was sent SIGTERM to exit; returns its exit status.
    pub fn terminate_wait(&mut self) -> std::process::ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `webhook-gateway` binary: Cargo names it to the gateway's own tests; other packages'
/// tests find it beside their test binary, where `cargo test --workspace` builds it.
pub fn gateway_binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_webhook-gateway") {
        return PathBuf::from(path);
    }
    let test_binary = std::env::current_exe().unwrap();
    let path = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("webhook-gateway");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p webhook-gateway`",
        path.display()
    );
    path
}

/// The gateway binary with exactly `env` (plus PATH) in its environment.
pub fn command(env: &[(String, String)]) -> Command {
    let mut command = Command::new(gateway_binary());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Registers a webhook through the command line; returns its API key (or generated secret).
pub fn register(env: &[(String, String)], id: &str, extra: &[&str]) -> String {
    let output = command(env)
        .args([
            "register",
            "--id",
            id,
            "--name",
            "Test hook",
            "--workspace",
            "ws-test",
        ])
        .args(["--organization", "org-test", "--output", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "register failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let issued = printed["apiKey"].as_str().or(printed["secret"].as_str());
    issued.unwrap_or_default().to_owned()
}

/// Runs a registration command and asserts it succeeded; returns its standard output.
pub fn manage(env: &[(String, String)], args: &[&str]) -> String {
    let output = command(env).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// POSTs a JSON body with an API key header.
pub async fn post(gateway: &Gateway, id: &str, key: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(gateway.url(&format!("/webhooks/{id}")))
        .header("content-type", "application/json")
        .header("x-api-key", key)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Polls `check` every 100 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A service process of our own (a private Redis or broker), killed when dropped.
pub struct Service {
    pub port: u16,
    child: Option<Child>,
    program: String,
    args: Vec<String>,
    dir: PathBuf,
}

impl Service {
    /// A private Redis on a free port.
    pub async fn redis() -> Self {
        let port = free_port();
        let args = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        Self::launch(
            stack_var("WHGW_REDIS_SERVER_BIN"),
            args.iter().map(|s| s.to_string()).collect(),
            port,
        )
        .await
    }

    /// A private Tansu broker with memory storage on a free port.
    pub async fn broker() -> Self {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let args = vec![
            "broker".into(),
            "--listener-url".into(),
            url.clone(),
            "--advertised-listener-url".into(),
            url,
            "--storage-engine".into(),
            "memory://tansu/".into(),
        ];
        Self::launch(stack_var("WHGW_TANSU_BIN"), args, port).await
    }

    async fn launch(program: String, args: Vec<String>, port: u16) -> Self {
        let dir = std::env::temp_dir().join(unique("whgw-service"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut service = Self {
            port,
            child: None,
            program,
            args,
            dir,
        };
        service.start().await;
        service
    }

    /// Starts (or restarts) the process on its port and waits until the port accepts connections.
    pub async fn start(&mut self) {
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        let up = eventually(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        assert!(up, "{} did not open port {port}", self.program);
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Replaces the value of `name` in `env`.
pub fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(n, _)| n != name);
    env.push((name.into(), value.into()));
}

/// A private PostgreSQL cluster on a free port (trust authentication, user `postgres`), stopped
/// and removed when dropped.
pub struct PrivatePostgres {
    pub port: u16,
    data: PathBuf,
}

impl PrivatePostgres {
    pub async fn start() -> Self {
        let port = free_port();
        let data = std::env::temp_dir().join(unique("whgw-pg"));
        std::fs::create_dir_all(&data).unwrap();
        Command::new("chown")
            .args(["postgres:", data.to_str().unwrap()])
            .status()
            .unwrap();
        let initdb = pg_tool("initdb")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb failed");
        let postgres = Self { port, data };
        postgres.resume();
        postgres
    }

    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let started = pg_tool("pg_ctl")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-l",
            ])
            .arg(self.data.join("server.log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(started.success(), "PostgreSQL did not start");
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        let _ = pg_tool("pg_ctl")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A PostgreSQL program run as the `postgres` user (the server refuses to run as root).
fn pg_tool(name: &str) -> Command {
    let program = PathBuf::from(stack_var("WHGW_PG_BIN_DIR")).join(name);
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

/// The secret of a test client of the stack's OIDC provider.
pub fn client_secret(client: &str) -> String {
    let clients = stack_var("WHGW_OIDC_TEST_CLIENTS");
    let entry = clients
        .split(',')
        .find(|entry| entry.starts_with(&format!("{client}:")))
        .unwrap();
    entry.split_once(':').unwrap().1.to_owned()
}

/// A real access token of a test user, by client credentials.
pub async fn token(client: &str) -> String {
    let url = format!(
        "{}/protocol/openid-connect/token",
        stack_var("WHGW_OIDC_ISSUER")
    );
    let answer: Value = reqwest::Client::new()
        .post(url)
        .basic_auth(client, Some(client_secret(client)))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// The stack variables that configure the management API (provider and SpiceDB).
pub const SECURITY_VARIABLES: &[&str] = &[
    "SECURITY_OAUTH2_BASE_SERVER_URL",
    "SECURITY_OAUTH2_REALM",
    "SECURITY_OAUTH2_CLIENT_CLIENT_ID",
    "SECURITY_OAUTH2_CLIENT_CLIENT_SECRET",
    "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID",
    "SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET",
    "FLOWX_LIB_CASCLIENT_SPICEDB_HOST",
    "FLOWX_LIB_CASCLIENT_SPICEDB_PORT",
    "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN",
];
