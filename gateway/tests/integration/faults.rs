//! Dependency failures: Redis lost, broker lost and back. Each test runs its own Redis or broker.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    Gateway, Service, TestDatabase, create_topic, eventually, post, read_topic, register, set,
    stack_var,
};

#[tokio::test]
async fn ingest_continues_from_postgres_while_redis_is_down() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let mut redis = Service::redis().await;
    let mut env = Gateway::stack_env(&database, &topic);
    set(&mut env, "SPRING_DATA_REDIS_PORT", &redis.port.to_string());
    let gateway = Gateway::start(env.clone()).await;
    let warm = register(&env, "warm", &[]);
    let cold = register(&env, "cold", &[]);
    assert_eq!(
        post(&gateway, "warm", &warm, r#"{"n":1}"#).await.status(),
        202
    );

    redis.kill();
    assert_eq!(
        post(&gateway, "warm", &warm, r#"{"n":2}"#).await.status(),
        202
    );
    assert_eq!(
        post(&gateway, "cold", &cold, r#"{"n":3}"#).await.status(),
        202,
        "PostgreSQL fallback"
    );
    assert_eq!(
        post(&gateway, "cold", "whk_wrong", r#"{"n":4}"#)
            .await
            .status(),
        401
    );

    let health = reqwest::get(gateway.url("/actuator/health")).await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "losing the cache must not make the gateway unhealthy"
    );
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["components"]["redis"]["status"], "DOWN");

    redis.start().await;
    let healed = eventually(Duration::from_secs(10), || async {
        let health: Value = reqwest::get(gateway.url("/actuator/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        health["components"]["redis"]["status"] == "UP"
    })
    .await;
    assert!(healed, "Redis did not come back in health");

    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        Some(3),
        Duration::from_secs(5),
    );
    let numbers: Vec<i64> = records
        .iter()
        .map(|r| r.value["payload"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}

#[tokio::test]
async fn broker_outage_answers_503_never_202_and_the_gateway_recovers_by_itself() {
    let database = TestDatabase::create().await;
    let mut broker = Service::broker().await;
    let topic = create_topic(&broker.address()).await;
    let mut env = Gateway::stack_env(&database, &topic);
    set(
        &mut env,
        "SPRING_KAFKA_BOOTSTRAP_SERVERS",
        &broker.address(),
    );
    set(&mut env, "WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS", "1500");
    let gateway = Gateway::start(env.clone()).await;
    let key = register(&env, "outage", &[]);
    assert_eq!(
        post(&gateway, "outage", &key, r#"{"phase":"before"}"#)
            .await
            .status(),
        202
    );

    broker.kill();
    let outage_started = Instant::now();
    let mut refused = 0;
    while outage_started.elapsed() < Duration::from_secs(5) {
        let response = post(&gateway, "outage", &key, r#"{"phase":"outage"}"#).await;
        assert_eq!(
            response.status(),
            503,
            "a call was answered without a broker"
        );
        assert_eq!(response.headers()["retry-after"], "5");
        refused += 1;
    }
    assert!(refused >= 1);

    // The memory broker comes back empty: the topic must be created again.
    broker.start().await;
    let recreated = create_topic_named(&broker.address(), &topic).await;
    assert!(recreated, "could not recreate the topic");

    let mut accepted_ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut recovered = false;
    while !recovered && Instant::now() < deadline {
        let response = post(&gateway, "outage", &key, r#"{"phase":"after"}"#).await;
        if response.status() == 202 {
            let body: Value = response.json().await.unwrap();
            accepted_ids.push(body["eventId"].as_str().unwrap().to_owned());
            recovered = true;
        } else {
            assert_eq!(response.status(), 503);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        recovered,
        "the gateway did not recover after the broker came back:\n{}",
        gateway.log_text()
    );
    for _ in 0..5 {
        let response = post(&gateway, "outage", &key, r#"{"phase":"after"}"#).await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        accepted_ids.push(body["eventId"].as_str().unwrap().to_owned());
    }

    let records = read_topic(
        &broker.address(),
        &topic,
        Some(accepted_ids.len()),
        Duration::from_secs(5),
    );
    let stored: Vec<&str> = records
        .iter()
        .filter_map(|r| r.value["eventId"].as_str())
        .collect();
    for id in &accepted_ids {
        assert!(
            stored.contains(&id.as_str()),
            "acknowledged event {id} is missing from the topic"
        );
    }
    let metrics = reqwest::get(gateway.url("/actuator/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rebuilds = metrics
        .lines()
        .find(|line| line.starts_with("webhook_kafka_producer_rebuilds_total"))
        .unwrap_or_default()
        .to_owned();
    eprintln!("after the outage: {rebuilds}");
}

async fn create_topic_named(bootstrap: &str, topic: &str) -> bool {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    eventually(Duration::from_secs(20), || {
        let admin = &admin;
        async move {
            let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(3)));
            let created = admin
                .create_topics(
                    &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
                    &options,
                )
                .await;
            created.is_ok_and(|results| results.iter().all(|r| r.is_ok()))
        }
    })
    .await
}

#[tokio::test]
async fn known_webhooks_keep_working_from_cache_while_postgres_is_down() {
    let postgres = crate::support::PrivatePostgres::start().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let database = TestDatabase::create().await;
    let mut env = Gateway::stack_env(&database, &topic);
    set(&mut env, "SPRING_DATASOURCE_URL", &postgres.jdbc_url());
    set(&mut env, "SPRING_DATASOURCE_USERNAME", "postgres");
    set(&mut env, "SPRING_DATASOURCE_PASSWORD", "");
    let gateway = Gateway::start(env.clone()).await;
    let known = register(&env, "known", &[]);
    let cold = register(&env, "cold", &[]);
    // Each change is followed by delayed cache invalidations; let them pass before warming.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        post(&gateway, "known", &known, r#"{"n":1}"#).await.status(),
        202
    );

    postgres.stop();
    assert_eq!(
        post(&gateway, "known", &known, r#"{"n":2}"#).await.status(),
        202
    );
    let response = post(&gateway, "cold", &cold, r#"{"n":0}"#).await;
    assert_eq!(
        response.status(),
        503,
        "an uncached webhook cannot be checked without PostgreSQL"
    );
    assert_eq!(response.headers()["retry-after"], "5");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://webhooks.flowx.ai/problems/registry-unavailable"
    );
    let health: Value = reqwest::get(gateway.url("/actuator/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["components"]["postgres"]["status"], "DOWN");

    postgres.resume();
    let healed = eventually(Duration::from_secs(20), || async {
        post(&gateway, "cold", &cold, r#"{"n":3}"#).await.status() == 202
    })
    .await;
    assert!(
        healed,
        "the gateway did not use PostgreSQL again after it came back"
    );

    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        Some(3),
        Duration::from_secs(5),
    );
    let numbers: Vec<i64> = records
        .iter()
        .map(|r| r.value["payload"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);
}
