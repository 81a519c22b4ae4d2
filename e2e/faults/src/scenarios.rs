//! The five scenarios. Each starts its own gateway (and the private service it breaks), runs
//! the steady load, injects the fault, heals it, keeps the load a little longer, reads the topic
//! back and turns what it saw into a [`Row`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde_json::Value;
use tokio::time::sleep;

use crate::SuiteError;
use crate::load::{Answer, Attempt, Hook, Load, Role};
use crate::process::{Gateway, PrivatePostgres, Service, register};
use crate::report::{Counts, Ledger, Row, seconds};
use crate::stack::{Env, SECURITY_VARIABLES, Stack, create_topic, delete_topic, read_back};

/// Load before the fault, so the gateway is warm and its caches are filled.
const WARM: Duration = Duration::from_secs(5);
const OUTAGE: Duration = Duration::from_secs(6);
/// How long the gateway gets to show it recovered after the fault is healed.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);
/// Load kept after recovery.
const AFTER: Duration = Duration::from_secs(5);
/// How long calls still being retried may go on once no new ones start.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Broker,
    Redis,
    Postgres,
    Spicedb,
    Sigterm,
}

impl Scenario {
    pub fn title(self) -> &'static str {
        match self {
            Scenario::Broker => "broker kill -9 + restart",
            Scenario::Redis => "redis kill -9 + restart",
            Scenario::Postgres => "postgres stop + restart",
            Scenario::Spicedb => "spicedb kill -9 + restart",
            Scenario::Sigterm => "gateway SIGTERM + replacement",
        }
    }
}

/// Databases and topics a scenario made on the shared stack, removed after it.
#[derive(Default)]
pub struct Scratch {
    databases: Vec<String>,
    topics: Vec<String>,
}

impl Scratch {
    pub async fn clean(self, stack: &Stack) {
        for database in &self.databases {
            if let Err(e) = stack.drop_database(database).await {
                eprintln!("fault-suite: could not drop database {database}: {e}");
            }
        }
        for topic in &self.topics {
            if let Err(e) = delete_topic(stack.kafka(), topic).await {
                eprintln!("fault-suite: could not delete topic {topic}: {e}");
            }
        }
    }
}

pub struct Suite {
    pub stack: Stack,
    pub gateway_bin: PathBuf,
    pub work_dir: PathBuf,
    pub senders: usize,
    pub rate: f64,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn set(env: &mut Env, name: &str, value: &str) {
    env.retain(|(n, _)| n != name);
    env.push((name.into(), value.into()));
}

fn during(attempts: &[Attempt], from: Duration, to: Duration) -> Vec<&Attempt> {
    attempts
        .iter()
        .filter(|a| a.started >= from && a.finished <= to)
        .collect()
}

/// The first 202 of `role` answered after `since`, measured from `since`.
fn first_accepted(attempts: &[Attempt], role: Role, since: Duration) -> Option<Duration> {
    attempts
        .iter()
        .filter(|a| a.role == role && a.answer.code() == Some(202) && a.finished > since)
        .map(|a| a.finished - since)
        .min()
}

fn describe(counts: &Counts) -> String {
    format!(
        "{} calls: {} 202, {} 503, {} other, {} connection errors",
        counts.calls, counts.accepted, counts.unavailable, counts.other, counts.connection_errors
    )
}

impl Suite {
    pub async fn run(&self, scenario: Scenario, scratch: &mut Scratch) -> Result<Row, SuiteError> {
        let dir = self.work_dir.join(format!("{scenario:?}").to_lowercase());
        std::fs::create_dir_all(&dir).map_err(|e| SuiteError::io("the work dir", e))?;
        match scenario {
            Scenario::Broker => self.broker(dir, scratch).await,
            Scenario::Redis => self.redis(dir, scratch).await,
            Scenario::Postgres => self.postgres(dir, scratch).await,
            Scenario::Spicedb => self.spicedb(dir, scratch).await,
            Scenario::Sigterm => self.sigterm(dir, scratch).await,
        }
    }

    async fn database(&self, scratch: &mut Scratch) -> Result<String, SuiteError> {
        let name = unique("fault_suite_");
        let jdbc = self.stack.create_database(&name).await?;
        scratch.databases.push(name);
        Ok(jdbc)
    }

    async fn stack_topic(&self, scratch: &mut Scratch) -> Result<String, SuiteError> {
        let topic = unique("fault-suite.");
        create_topic(self.stack.kafka(), &topic).await?;
        scratch.topics.push(topic.clone());
        Ok(topic)
    }

    async fn hook(
        &self,
        env: &Env,
        id: &str,
        workspace: &str,
        role: Role,
    ) -> Result<Hook, SuiteError> {
        // Unique ids: registrations are cached in Redis by id alone, and the stack's Redis
        // outlives every scenario's database.
        let id = format!("{id}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        Ok(Hook {
            key: register(&self.gateway_bin, env, &id, workspace).await?,
            id,
            role,
        })
    }

    /// The load every scenario runs, on the webhook `hook` of `gateway`.
    fn load(&self, clock: Instant, gateway: &Gateway, hook: &Hook) -> Load {
        let mut load = Load::new(clock, gateway.url());
        load.spawn(self.senders, self.rate, hook);
        load
    }

    async fn broker(&self, dir: PathBuf, scratch: &mut Scratch) -> Result<Row, SuiteError> {
        let mut broker = Service::broker(&self.stack, dir.join("tansu"))?;
        broker.start().await?;
        let topic = unique("fault-suite.");
        create_topic(&broker.address(), &topic).await?;
        let mut env = self
            .stack
            .gateway_env(&self.database(scratch).await?, &topic);
        set(
            &mut env,
            "SPRING_KAFKA_BOOTSTRAP_SERVERS",
            &broker.address(),
        );
        let hook = self.hook(&env, "steady", "ws-faults", Role::Steady).await?;
        let mut gateway = Gateway::start(&self.gateway_bin, &env, &dir.join("gateway.log")).await?;

        let clock = Instant::now();
        let load = self.load(clock, &gateway, &hook);
        sleep(WARM).await;
        load.wait_in_flight(Duration::from_secs(1)).await;
        let killed = clock.elapsed();
        broker.kill().await;
        sleep(OUTAGE).await;
        let restarting = clock.elapsed();
        broker.start().await?;
        let restarted = clock.elapsed();
        load.wait_accepted_after(Role::Steady, restarted, RECOVERY_LIMIT)
            .await;
        sleep(AFTER).await;
        let attempts = load.finish(DRAIN).await;
        let alive = gateway.alive();
        let rebuilds = metric(&gateway, "webhook_kafka_producer_rebuilds_total").await;
        let topic_contents = read_back(&broker.address(), &topic).await?;
        gateway.stop().await;
        broker.kill().await;

        let outage = during(&attempts, killed, restarting);
        let outage_counts = Counts::of(outage.iter().copied());
        let refused_with_retry_after = outage
            .iter()
            .filter(|a| {
                matches!(
                    a.answer,
                    Answer::Status {
                        code: 503,
                        retry_after: true,
                        ..
                    }
                )
            })
            .count();
        let at_kill = Counts::of(
            attempts
                .iter()
                .filter(|a| a.started < killed && a.finished > killed),
        );
        let recovery = first_accepted(&attempts, Role::Steady, restarted);
        let mut violations = Vec::new();
        if outage_counts.accepted > 0 {
            violations.push(format!(
                "{} calls made while no broker ran were answered 202",
                outage_counts.accepted
            ));
        }
        if outage_counts.unavailable == 0 {
            violations.push("no call made during the outage was answered 503".into());
        }
        if recovery.is_none() {
            violations.push("no 202 within 30 s of the broker's restart".into());
        }
        if !alive {
            violations.push("the gateway process exited".into());
        }
        Ok(Row {
            name: Scenario::Broker.title(),
            ledger: Ledger::new(&attempts, &topic_contents),
            recovery,
            notes: vec![
                format!(
                    "outage {} (made and answered while the broker was down): {}; {} of the \
                     503s carried Retry-After",
                    seconds(restarting - killed),
                    describe(&outage_counts),
                    refused_with_retry_after
                ),
                format!("in flight at the kill: {}", describe(&at_kill)),
                format!(
                    "broker accepting connections {} after its restart began; first 202 {} \
                     after that, same gateway process (producer replaced {} times)",
                    seconds(restarted - restarting),
                    recovery.map_or("never".into(), seconds),
                    rebuilds.as_deref().unwrap_or("?")
                ),
            ],
            violations,
        })
    }

    async fn redis(&self, dir: PathBuf, scratch: &mut Scratch) -> Result<Row, SuiteError> {
        let mut redis = Service::redis(&self.stack, dir.join("redis"))?;
        redis.start().await?;
        let topic = self.stack_topic(scratch).await?;
        let mut env = self
            .stack
            .gateway_env(&self.database(scratch).await?, &topic);
        set(&mut env, "SPRING_DATA_REDIS_PORT", &redis.port.to_string());
        let hook = self.hook(&env, "steady", "ws-faults", Role::Steady).await?;
        let gateway = Gateway::start(&self.gateway_bin, &env, &dir.join("gateway.log")).await?;

        let clock = Instant::now();
        let load = self.load(clock, &gateway, &hook);
        sleep(WARM).await;
        let killed = clock.elapsed();
        redis.kill().await;
        sleep(OUTAGE).await;
        let restarting = clock.elapsed();
        redis.start().await?;
        let restarted = clock.elapsed();
        let healthy = wait_component_up(&gateway, "redis", RECOVERY_LIMIT).await;
        let recovery = healthy.then(|| clock.elapsed() - restarted);
        sleep(AFTER).await;
        let attempts = load.finish(DRAIN).await;
        let topic_contents = read_back(self.stack.kafka(), &topic).await?;
        gateway.stop().await;
        redis.kill().await;

        let outage_counts = Counts::of(during(&attempts, killed, restarting));
        let mut violations = Vec::new();
        if outage_counts.accepted == 0 {
            violations.push("no call was accepted while Redis was down".into());
        }
        if !healthy {
            violations.push("health did not show Redis UP within 30 s of its restart".into());
        }
        Ok(Row {
            name: Scenario::Redis.title(),
            ledger: Ledger::new(&attempts, &topic_contents),
            recovery,
            notes: vec![
                format!(
                    "outage {}: {}; non-202 during the outage: {}",
                    seconds(restarting - killed),
                    describe(&outage_counts),
                    outage_counts.calls - outage_counts.accepted
                ),
                "recovery: from Redis accepting connections to the gateway's health showing it UP"
                    .into(),
            ],
            violations,
        })
    }

    async fn postgres(&self, dir: PathBuf, scratch: &mut Scratch) -> Result<Row, SuiteError> {
        let postgres = PrivatePostgres::create(&self.stack).await?;
        let topic = self.stack_topic(scratch).await?;
        let mut env = self.stack.gateway_env(&postgres.jdbc_url(), &topic);
        set(&mut env, "SPRING_DATASOURCE_USERNAME", "postgres");
        set(&mut env, "SPRING_DATASOURCE_PASSWORD", "");
        // Registered before the gateway runs, so no change notification (and its delayed cache
        // invalidations) can drop the warmed entry just as the outage begins.
        let known = self.hook(&env, "known", "ws-faults", Role::Steady).await?;
        let cold = self.hook(&env, "cold", "ws-faults", Role::Cold).await?;
        let gateway = Gateway::start(&self.gateway_bin, &env, &dir.join("gateway.log")).await?;

        let clock = Instant::now();
        let mut load = self.load(clock, &gateway, &known);
        sleep(WARM).await;
        let stopping = clock.elapsed();
        postgres.stop_immediate().await?;
        // The cold webhook is called for the first time now, with nothing cached.
        load.spawn(1, 2.0, &cold);
        sleep(OUTAGE).await;
        let restarting = clock.elapsed();
        postgres.resume().await?;
        let restarted = clock.elapsed();
        load.wait_accepted_after(Role::Cold, restarted, RECOVERY_LIMIT)
            .await;
        sleep(AFTER).await;
        let attempts = load.finish(DRAIN).await;
        let topic_contents = read_back(self.stack.kafka(), &topic).await?;
        gateway.stop().await;

        let outage = during(&attempts, stopping, restarting);
        let known_counts = Counts::of(outage.iter().copied().filter(|a| a.role == Role::Steady));
        let cold_counts = Counts::of(outage.iter().copied().filter(|a| a.role == Role::Cold));
        let recovery = first_accepted(&attempts, Role::Cold, restarted);
        let mut violations = Vec::new();
        if known_counts.accepted != known_counts.calls {
            violations.push(format!(
                "the cached webhook was answered other than 202 {} times while PostgreSQL was down",
                known_counts.calls - known_counts.accepted
            ));
        }
        if cold_counts.unavailable == 0 || cold_counts.unavailable != cold_counts.calls {
            violations.push(format!(
                "the never-called webhook was not refused with 503 throughout the outage ({})",
                describe(&cold_counts)
            ));
        }
        if recovery.is_none() {
            violations
                .push("the never-called webhook got no 202 within 30 s of the restart".into());
        }
        Ok(Row {
            name: Scenario::Postgres.title(),
            ledger: Ledger::new(&attempts, &topic_contents),
            recovery,
            notes: vec![
                format!(
                    "outage {}: cached webhook {}; never-called webhook {}",
                    seconds(restarting - stopping),
                    describe(&known_counts),
                    describe(&cold_counts)
                ),
                "recovery: from PostgreSQL accepting connections to the first 202 of the \
                 never-called webhook"
                    .into(),
            ],
            violations,
        })
    }

    async fn spicedb(&self, dir: PathBuf, scratch: &mut Scratch) -> Result<Row, SuiteError> {
        let key = uuid::Uuid::new_v4().simple().to_string();
        let mut spicedb = Service::spicedb(&self.stack, dir.join("spicedb"), &key)?;
        spicedb.start().await?;
        let topic = self.stack_topic(scratch).await?;
        let mut env = self
            .stack
            .gateway_env(&self.database(scratch).await?, &topic);
        for name in SECURITY_VARIABLES {
            set(&mut env, name, self.stack.var(name));
        }
        set(&mut env, "SECURITY_TYPE", "oauth2");
        set(
            &mut env,
            "FLOWX_LIB_CASCLIENT_SPICEDB_PORT",
            &spicedb.port.to_string(),
        );
        set(&mut env, "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN", &key);
        // Every API call asks SpiceDB, so the outage shows at once.
        set(&mut env, "WEBHOOK_GATEWAY_AUTHZ_CACHE_MS", "0");
        let hook = self.hook(&env, "steady", "ws-alpha", Role::Steady).await?;
        let gateway = Gateway::start(&self.gateway_bin, &env, &dir.join("gateway.log")).await?;
        let token = self.stack.user_token("alice").await?;

        let clock = Instant::now();
        let load = self.load(clock, &gateway, &hook);
        let api_url = format!("{}/api/workspaces/ws-alpha/webhooks", gateway.url());
        let probe = ApiProbe::spawn(clock, api_url, token);
        sleep(WARM).await;
        let killed = clock.elapsed();
        spicedb.kill().await;
        sleep(OUTAGE).await;
        let restarting = clock.elapsed();
        spicedb.start().await?;
        let restarted = clock.elapsed();
        probe.wait_ok_after(restarted, RECOVERY_LIMIT).await;
        sleep(AFTER).await;
        let api_calls = probe.finish().await;
        let attempts = load.finish(DRAIN).await;
        let topic_contents = read_back(self.stack.kafka(), &topic).await?;
        gateway.stop().await;
        spicedb.kill().await;

        let api_outage: Vec<&ApiCall> = api_calls
            .iter()
            .filter(|c| c.started >= killed && c.finished <= restarting)
            .collect();
        let api_count = |status: u16| {
            api_outage
                .iter()
                .filter(|c| c.status == Some(status))
                .count()
        };
        let (allowed, denied, refused) = (api_count(200), api_count(403), api_count(503));
        let api_ok_before = api_calls
            .iter()
            .filter(|c| c.finished < killed && c.status == Some(200))
            .count();
        let recovery = api_calls
            .iter()
            .filter(|c| c.status == Some(200) && c.finished > restarted)
            .map(|c| c.finished - restarted)
            .min();
        let webhook_outage = Counts::of(during(&attempts, killed, restarting));

        let mut violations = Vec::new();
        if allowed + denied > 0 {
            violations.push(format!(
                "/api answered {allowed} × 200 and {denied} × 403 while SpiceDB was down"
            ));
        }
        if refused == 0 {
            violations.push("/api answered no 503 while SpiceDB was down".into());
        }
        if api_ok_before == 0 {
            violations.push("/api never answered 200 before the outage: the setup is wrong".into());
        }
        if recovery.is_none() {
            violations.push("/api did not answer 200 within 30 s of SpiceDB's restart".into());
        }
        if webhook_outage.accepted != webhook_outage.calls {
            violations.push(format!(
                "webhooks were answered other than 202 {} times while SpiceDB was down",
                webhook_outage.calls - webhook_outage.accepted
            ));
        }
        Ok(Row {
            name: Scenario::Spicedb.title(),
            ledger: Ledger::new(&attempts, &topic_contents),
            recovery,
            notes: vec![
                format!(
                    "outage {}: /api GETs with a valid token {}: {refused} × 503, {allowed} × 200, \
                     {denied} × 403, {} other or failed; webhooks {}",
                    seconds(restarting - killed),
                    api_outage.len(),
                    api_outage.len() - refused - allowed - denied,
                    describe(&webhook_outage)
                ),
                format!(
                    "/api before the outage: {api_ok_before} × 200; recovery: from SpiceDB \
                     accepting connections to the first /api 200"
                ),
            ],
            violations,
        })
    }

    async fn sigterm(&self, dir: PathBuf, scratch: &mut Scratch) -> Result<Row, SuiteError> {
        let topic = self.stack_topic(scratch).await?;
        let env = self
            .stack
            .gateway_env(&self.database(scratch).await?, &topic);
        let hook = self.hook(&env, "steady", "ws-faults", Role::Steady).await?;
        let mut first = Gateway::start(&self.gateway_bin, &env, &dir.join("first.log")).await?;

        let clock = Instant::now();
        let load = self.load(clock, &first, &hook);
        sleep(WARM).await;
        load.wait_in_flight(Duration::from_secs(1)).await;
        let terminated = clock.elapsed();
        first.terminate()?;
        let replacement = Gateway::start(&self.gateway_bin, &env, &dir.join("second.log")).await?;
        let replaced = clock.elapsed();
        load.add_gateway(replacement.url());
        let exit = first.wait_exit(Duration::from_secs(40)).await;
        let exited = clock.elapsed();
        sleep(AFTER).await;
        let attempts = load.finish(DRAIN).await;
        let topic_contents = read_back(self.stack.kafka(), &topic).await?;
        replacement.stop().await;

        let ledger = Ledger::new(&attempts, &topic_contents);
        let on_first = |a: &&Attempt| a.gateway == 0;
        let in_flight = Counts::of(
            attempts
                .iter()
                .filter(on_first)
                .filter(|a| a.started < terminated && a.finished > terminated),
        );
        let after_signal = Counts::of(
            attempts
                .iter()
                .filter(on_first)
                .filter(|a| a.started >= terminated),
        );
        let first_ids: Vec<&str> = attempts
            .iter()
            .filter(on_first)
            .filter_map(|a| match &a.answer {
                Answer::Status {
                    code: 202,
                    event_id: Some(id),
                    ..
                } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let lost_from_first = ledger
            .lost
            .iter()
            .filter(|id| first_ids.contains(&id.as_str()))
            .count();
        let recovery = attempts
            .iter()
            .filter(|a| a.gateway == 1 && a.answer.code() == Some(202))
            .map(|a| a.finished - terminated)
            .min();

        let mut violations = Vec::new();
        let exit_text = match &exit {
            Ok(status) if status.success() => {
                format!("exited 0 {} after SIGTERM", seconds(exited - terminated))
            }
            Ok(status) => {
                violations.push(format!("the first gateway exited with {status}"));
                format!("exited with {status}")
            }
            Err(e) => {
                violations.push(e.to_string());
                "did not exit".into()
            }
        };
        if lost_from_first > 0 {
            violations.push(format!(
                "{lost_from_first} events the first gateway answered 202 are not in the topic"
            ));
        }
        if in_flight.calls != in_flight.accepted {
            violations.push(format!(
                "calls in flight at SIGTERM were not all answered 202 ({})",
                describe(&in_flight)
            ));
        }
        if recovery.is_none() {
            violations.push("the replacement answered no 202".into());
        }
        Ok(Row {
            name: Scenario::Sigterm.title(),
            ledger,
            recovery,
            notes: vec![
                format!(
                    "in flight at SIGTERM: {}; first gateway after SIGTERM: {}; it {exit_text}",
                    describe(&in_flight),
                    describe(&after_signal)
                ),
                format!(
                    "{} events answered 202 by the first gateway, {lost_from_first} missing; \
                     replacement ready {} after SIGTERM; recovery: SIGTERM to the replacement's \
                     first 202",
                    first_ids.len(),
                    seconds(replaced - terminated)
                ),
            ],
            violations,
        })
    }
}

async fn wait_component_up(gateway: &Gateway, component: &str, limit: Duration) -> bool {
    let client = reqwest::Client::new();
    let url = format!("{}/actuator/health", gateway.url());
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(&url).send().await
            && let Ok(health) = response.json::<Value>().await
            && health["components"][component]["status"] == "UP"
        {
            return true;
        }
        sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The value of a metric without labels, as the gateway shows it.
async fn metric(gateway: &Gateway, name: &str) -> Option<String> {
    let text = reqwest::get(format!("{}/actuator/metrics", gateway.url()))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map(str::to_owned)
}

/// One management API call.
pub struct ApiCall {
    started: Duration,
    finished: Duration,
    /// `None` when no answer came.
    status: Option<u16>,
}

/// Lists a workspace's webhooks every 100 ms with a valid token.
struct ApiProbe {
    stop: Arc<AtomicBool>,
    last_ok_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Vec<ApiCall>>,
}

impl ApiProbe {
    fn spawn(clock: Instant, url: String, token: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let last_ok_ms = Arc::new(AtomicU64::new(0));
        let (stopped, last_ok) = (stop.clone(), last_ok_ms.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client");
            let mut calls = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                let started = clock.elapsed();
                let status = match client.get(&url).bearer_auth(&token).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // Read the rest so the connection can be reused.
                        let _ = response.bytes().await;
                        Some(status)
                    }
                    Err(_) => None,
                };
                let finished = clock.elapsed();
                if status == Some(200) {
                    last_ok.fetch_max(finished.as_millis() as u64, Ordering::Relaxed);
                }
                calls.push(ApiCall {
                    started,
                    finished,
                    status,
                });
                sleep(Duration::from_millis(100)).await;
            }
            calls
        });
        Self {
            stop,
            last_ok_ms,
            task,
        }
    }

    async fn wait_ok_after(&self, since: Duration, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline
            && self.last_ok_ms.load(Ordering::Relaxed) <= since.as_millis() as u64
        {
            sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> Vec<ApiCall> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}
