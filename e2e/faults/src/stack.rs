//! The shared local stack (`e2e/stack/up.sh`, its env file sourced by `run.sh`): settings, a
//! database and a topic of the suite's own per scenario, and reading a topic back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::SuiteError;

/// Variables of the stack's env file the suite reads.
const REQUIRED: &[&str] = &[
    "SPRING_DATASOURCE_URL",
    "SPRING_DATASOURCE_USERNAME",
    "SPRING_DATASOURCE_PASSWORD",
    "SPRING_DATA_REDIS_HOST",
    "SPRING_DATA_REDIS_PORT",
    "SPRING_KAFKA_BOOTSTRAP_SERVERS",
    "WHGW_PG_ADMIN_URL",
    "WHGW_PG_BIN_DIR",
    "WHGW_TANSU_BIN",
    "WHGW_REDIS_SERVER_BIN",
    "WHGW_SPICEDB_SERVER",
    "WHGW_SPICEDB_BOOTSTRAP",
    "WHGW_OIDC_ISSUER",
    "WHGW_OIDC_TEST_CLIENTS",
];

/// What a gateway needs for the management API, passed through unchanged.
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

pub type Env = Vec<(String, String)>;

pub struct Stack {
    vars: HashMap<&'static str, String>,
}

impl Stack {
    pub fn from_env() -> Result<Self, SuiteError> {
        let mut vars = HashMap::new();
        let mut missing = Vec::new();
        for name in REQUIRED.iter().chain(SECURITY_VARIABLES) {
            match std::env::var(name) {
                Ok(value) => {
                    vars.insert(*name, value);
                }
                Err(_) => missing.push(*name),
            }
        }
        if missing.is_empty() {
            Ok(Self { vars })
        } else {
            Err(SuiteError::MissingVariables(missing.join(", ")))
        }
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{name} is not one of the variables the suite reads"))
    }

    pub fn kafka(&self) -> &str {
        self.var("SPRING_KAFKA_BOOTSTRAP_SERVERS")
    }

    /// A gateway against the shared stack with its own database and topic, with the timings the
    /// suite is built around: a short publish timeout so that outages show within a short run.
    pub fn gateway_env(&self, jdbc_url: &str, topic: &str) -> Env {
        let mut env: Env = [
            "SPRING_DATASOURCE_USERNAME",
            "SPRING_DATASOURCE_PASSWORD",
            "SPRING_DATA_REDIS_HOST",
            "SPRING_DATA_REDIS_PORT",
            "SPRING_KAFKA_BOOTSTRAP_SERVERS",
        ]
        .iter()
        .map(|name| (name.to_string(), self.var(name).to_owned()))
        .collect();
        for (name, value) in [
            ("SPRING_DATASOURCE_URL", jdbc_url),
            ("KAFKA_TOPIC_PROCESS_START_OUT", topic),
            ("WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS", "2000"),
            ("WEBHOOK_GATEWAY_SHUTDOWN_DELAY_MS", "500"),
            ("LOGGING_LEVEL_ROOT", "WARN"),
            ("LOGGING_LEVEL_APP", "INFO"),
        ] {
            env.push((name.into(), value.into()));
        }
        env
    }

    /// Creates an empty database owned by the gateway's user; returns its JDBC URL.
    pub async fn create_database(&self, name: &str) -> Result<String, SuiteError> {
        let owner = self.var("SPRING_DATASOURCE_USERNAME");
        self.admin_sql(&format!("CREATE DATABASE {name} OWNER {owner}"))
            .await?;
        let server = self
            .var("SPRING_DATASOURCE_URL")
            .rsplit_once('/')
            .map_or("", |(server, _)| server);
        Ok(format!("{server}/{name}"))
    }

    pub async fn drop_database(&self, name: &str) -> Result<(), SuiteError> {
        self.admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
    }

    async fn admin_sql(&self, sql: &str) -> Result<(), SuiteError> {
        let (client, connection) =
            tokio_postgres::connect(self.var("WHGW_PG_ADMIN_URL"), tokio_postgres::NoTls).await?;
        let connection = tokio::spawn(connection);
        let outcome = client.batch_execute(sql).await;
        drop(client);
        let _ = connection.await;
        Ok(outcome?)
    }

    /// A real access token of a test user of the OIDC provider, by client credentials.
    pub async fn user_token(&self, user: &str) -> Result<String, SuiteError> {
        let secret = self
            .var("WHGW_OIDC_TEST_CLIENTS")
            .split(',')
            .find_map(|entry| entry.strip_prefix(&format!("{user}:")))
            .ok_or_else(|| SuiteError::Setup(format!("no test client {user}")))?;
        let url = format!(
            "{}/protocol/openid-connect/token",
            self.var("WHGW_OIDC_ISSUER")
        );
        let answer: Value = reqwest::Client::new()
            .post(url)
            .basic_auth(user, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SuiteError::Setup("the token answer has no access_token".into()))
    }
}

fn admin(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>, SuiteError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?)
}

/// Creates a one-partition topic, retrying while a broker that just started settles.
pub async fn create_topic(bootstrap: &str, topic: &str) -> Result<(), SuiteError> {
    let admin = admin(bootstrap)?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let created = admin
            .create_topics(
                &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
                &options,
            )
            .await;
        match created {
            Ok(results) if results.iter().all(Result::is_ok) => return Ok(()),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(300)).await,
            other => return Err(SuiteError::Setup(format!("topic {topic}: {other:?}"))),
        }
    }
}

pub async fn delete_topic(bootstrap: &str, topic: &str) -> Result<(), SuiteError> {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    admin(bootstrap)?.delete_topics(&[topic], &options).await?;
    Ok(())
}

/// One record of a scenario's topic, reduced to what the counts need.
#[derive(Debug)]
pub struct Stored {
    pub event_id: Option<String>,
    pub seq: Option<u64>,
}

/// A scenario's topic as read back.
pub struct TopicContents {
    pub records: Vec<Stored>,
    /// Records the broker kept out of sight until one more record was written (see
    /// [`read_back`]).
    pub hidden_until_next_write: i64,
}

/// Reads every record of partition 0 of `topic`.
///
/// Tansu 0.6 can report a high watermark that leaves out the latest batch until another record
/// is written, and a consumer cannot read past it. So a fence record goes in first, and
/// everything before the fence's offset is read.
pub async fn read_back(bootstrap: &str, topic: &str) -> Result<TopicContents, SuiteError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("fault-suite-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()?;
    let (_, visible) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10))?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create()?;
    let fence = producer
        .send(
            FutureRecord::<str, str>::to(topic)
                .partition(0)
                .payload(r#"{"fence":true}"#),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?
        .offset;
    let topic = topic.to_owned();
    let records = tokio::task::spawn_blocking(move || read_before(&consumer, &topic, fence))
        .await
        .map_err(|e| SuiteError::Setup(format!("reading the topic: {e}")))??;
    Ok(TopicContents {
        records,
        hidden_until_next_write: fence - visible,
    })
}

fn read_before(consumer: &BaseConsumer, topic: &str, end: i64) -> Result<Vec<Stored>, SuiteError> {
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let mut records = Vec::new();
    let mut next = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < end {
        if Instant::now() > deadline {
            return Err(SuiteError::Setup(format!(
                "read {next} of {end} records of {topic} within 60 s"
            )));
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) if message.offset() < end => {
                next = message.offset() + 1;
                let value: Value = serde_json::from_slice(message.payload().unwrap_or(b"null"))
                    .unwrap_or_default();
                records.push(Stored {
                    event_id: value["eventId"].as_str().map(str::to_owned),
                    seq: value["payload"]["seq"].as_u64(),
                });
            }
            Some(Ok(_)) => next = end,
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Ok(records)
}
