//! Registration changes, key rotation, migrations and the command line.

use std::time::Duration;

use crate::support::{
    Gateway, TestDatabase, command, create_topic, eventually, manage, post, register, stack_var,
};

#[tokio::test]
async fn changes_reach_every_gateway_replica_promptly() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let env = Gateway::stack_env(&database, &topic);
    let first = Gateway::start(env.clone()).await;
    let second = Gateway::start(env.clone()).await;
    let key = register(&env, "shared", &[]);

    // Warm both in-process caches and Redis.
    for gateway in [&first, &second] {
        assert_eq!(post(gateway, "shared", &key, "{}").await.status(), 202);
    }

    manage(&env, &["deactivate", "shared"]);
    for gateway in [&first, &second] {
        let refused = eventually(Duration::from_secs(3), || async {
            post(gateway, "shared", &key, "{}").await.status() == 403
        })
        .await;
        assert!(
            refused,
            "gateway on port {} still accepts a deactivated webhook",
            gateway.port
        );
    }

    manage(&env, &["activate", "shared"]);
    for gateway in [&first, &second] {
        let accepted = eventually(Duration::from_secs(3), || async {
            post(gateway, "shared", &key, "{}").await.status() == 202
        })
        .await;
        assert!(
            accepted,
            "gateway on port {} did not see the reactivation",
            gateway.port
        );
    }

    manage(&env, &["delete", "shared"]);
    for gateway in [&first, &second] {
        let gone = eventually(Duration::from_secs(3), || async {
            post(gateway, "shared", &key, "{}").await.status() == 404
        })
        .await;
        assert!(
            gone,
            "gateway on port {} still knows a deleted webhook",
            gateway.port
        );
    }
}

#[tokio::test]
async fn a_webhook_registered_after_a_miss_is_found_without_waiting_for_the_negative_cache() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let mut env = Gateway::stack_env(&database, &topic);
    crate::support::set(&mut env, "WEBHOOK_GATEWAY_NEGATIVE_CACHE_TTL_MS", "600000");
    let gateway = Gateway::start(env.clone()).await;

    assert_eq!(post(&gateway, "late", "whk_any", "{}").await.status(), 404);
    let key = register(&env, "late", &[]);
    let found = eventually(Duration::from_secs(3), || async {
        post(&gateway, "late", &key, "{}").await.status() == 202
    })
    .await;
    assert!(found, "a cached miss hid a new registration");
}

#[tokio::test]
async fn rotated_keys_overlap_for_the_grace_period_only() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let env = Gateway::stack_env(&database, &topic);
    let gateway = Gateway::start(env.clone()).await;
    let old = register(&env, "rotating", &[]);
    assert_eq!(post(&gateway, "rotating", &old, "{}").await.status(), 202);

    let printed = manage(
        &env,
        &[
            "rotate-key",
            "rotating",
            "--grace-seconds",
            "2",
            "--output",
            "json",
        ],
    );
    let new = serde_json::from_str::<serde_json::Value>(&printed).unwrap()["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);

    let both = eventually(Duration::from_secs(3), || async {
        post(&gateway, "rotating", &new, "{}").await.status() == 202
    })
    .await;
    assert!(both, "the new key is not accepted");
    assert_eq!(
        post(&gateway, "rotating", &old, "{}").await.status(),
        202,
        "old key refused within grace"
    );

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(
        post(&gateway, "rotating", &old, "{}").await.status(),
        401,
        "old key still valid after grace"
    );
    assert_eq!(post(&gateway, "rotating", &new, "{}").await.status(), 202);
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let database = TestDatabase::create().await;
    let env = Gateway::stack_env(&database, "unused");
    let key = register(&env, "hashed", &[]);
    let client = database.client().await;
    let rows = client
        .query("SELECT secret_hash FROM webhook_credentials", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: Vec<u8> = rows[0].get(0);
    assert_eq!(stored.len(), 32);
    assert!(
        !stored
            .windows(8)
            .any(|w| key.as_bytes().windows(8).any(|k| k == w))
    );
    let dump = client
        .query(
            "SELECT row_to_json(r)::text FROM webhook_registrations r",
            &[],
        )
        .await
        .unwrap();
    let text: String = dump[0].get(0);
    assert!(!text.contains(&key));
}

#[tokio::test]
async fn migrations_apply_once_and_rerunning_applies_none() {
    let database = TestDatabase::create().await;
    let env = Gateway::stack_env(&database, "unused");
    let first = manage(&env, &["migrate"]);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert!(migrations >= 2);
    assert!(
        first.contains(&format!("database migrations applied: {migrations}")),
        "{first}"
    );
    let second = manage(&env, &["migrate"]);
    assert!(
        second.contains("database migrations applied: 0"),
        "{second}"
    );
}

#[tokio::test]
async fn the_command_line_refuses_bad_input_without_writing() {
    let database = TestDatabase::create().await;
    let env = Gateway::stack_env(&database, "unused");
    manage(&env, &["migrate"]);
    let output = command(&env)
        .args([
            "register",
            "--id",
            "../escape",
            "--name",
            "x",
            "--workspace",
            "w",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("id: must match"));

    let output = command(&env)
        .args(["deactivate", "missing"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing"));

    let rows = database
        .client()
        .await
        .query("SELECT id FROM webhook_registrations", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn the_delivery_log_keeps_the_newest_hundred_per_webhook_newest_first() {
    use std::sync::Arc;
    use webhook_gateway::config::RedisConfig;
    use webhook_gateway::store::deliveries::{Delivery, DeliveryLog, KEPT};
    use webhook_gateway::store::redis::Redis;

    let config = RedisConfig {
        host: stack_var("SPRING_DATA_REDIS_HOST"),
        port: stack_var("SPRING_DATA_REDIS_PORT").parse().unwrap(),
        password: None,
        ttl: Duration::from_secs(60),
    };
    // A database name of its own keeps this test's keys apart from every other test's.
    let redis = Arc::new(Redis::new(&config, &crate::support::unique("delivery-log")).unwrap());
    let log = DeliveryLog::new(redis);
    let delivery = |n: u64| Delivery {
        event_id: Some(format!("event-{n}")),
        received_at: chrono::Utc::now(),
        outcome: "accepted".to_owned(),
        status: 202,
        size_bytes: Some(n),
        latency_ms: 1.0,
    };
    // Interleaved, so that batches carry both webhooks.
    for n in 1..=250 {
        log.record("busy".into(), delivery(n));
        if n % 50 == 0 {
            log.record("quiet".into(), delivery(n));
        }
    }

    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let busy = loop {
        let busy = log.recent("busy", 1000).await.unwrap();
        if busy.first().and_then(|d| d.size_bytes) == Some(250) {
            break busy;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last delivery never reached the log: {busy:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sizes: Vec<u64> = busy.iter().filter_map(|d| d.size_bytes).collect();
    let expected: Vec<u64> = (251 - KEPT as u64..=250).rev().collect();
    assert_eq!(sizes, expected, "newest first, only the last {KEPT}");

    let quiet: Vec<u64> = log
        .recent("quiet", 1000)
        .await
        .unwrap()
        .iter()
        .filter_map(|d| d.size_bytes)
        .collect();
    assert_eq!(quiet, vec![250, 200, 150, 100, 50]);

    log.forget("busy").await;
    assert!(log.recent("busy", 10).await.unwrap().is_empty());
}
