//! The ingest path: accepted calls become exactly one record; refused calls publish nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Gateway, TestDatabase, create_topic, post, read_topic, register, stack_var};

async fn setup() -> (TestDatabase, String, Gateway) {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let gateway = Gateway::start(Gateway::stack_env(&database, &topic)).await;
    (database, topic, gateway)
}

#[tokio::test]
async fn accepted_webhook_becomes_one_record_with_every_field() {
    let (_database, topic, gateway) = setup().await;
    let key = register(
        &gateway.env,
        "orders",
        &[
            "--start-event",
            "order_created",
            "--forward-header",
            "X-Shop",
        ],
    );
    let body = r#"{"order": {"id": 42, "items": ["a", "b"]}, "note": "caf\u00e9"}"#;

    let response = reqwest::Client::new()
        .post(gateway.url(&format!("/webhooks/orders?apiKey={key}")))
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("x-request-id", "req-1")
        .header("x-shop", "shop.example")
        .header("x-unlisted", "dropped")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let event_id = answer["eventId"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&event_id).unwrap();

    let bootstrap = stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS");
    let records = read_topic(&bootstrap, &topic, None, Duration::from_secs(2));
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record.key.as_deref(), Some("orders"));
    assert_eq!(
        record.value["payload"],
        serde_json::from_str::<Value>(body).unwrap()
    );
    assert_eq!(record.value["eventId"], event_id);
    assert_eq!(record.value["webhookId"], "orders");
    assert_eq!(record.value["webhookName"], "Test hook");
    assert_eq!(record.value["workspaceId"], "ws-test");
    assert_eq!(record.value["organizationId"], "org-test");
    assert_eq!(record.value["startEvent"], "order_created");
    let received = record.value["receivedAt"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(received).unwrap();
    assert_eq!(record.value["headers"]["x-request-id"], "req-1");
    assert_eq!(record.value["headers"]["x-shop"], "shop.example");
    assert_eq!(
        record.value["headers"]["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(record.value["headers"].get("x-unlisted").is_none());
    assert_eq!(record.headers["Fx-Organization-Id"], "org-test");
    assert_eq!(record.headers["Fx-Event-Id"], event_id);
    assert_eq!(record.headers["Fx-Webhook-Id"], "orders");
    assert_eq!(record.headers["Content-Type"], "application/json");
    assert_eq!(
        record.headers["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );

    let log = gateway.log_text();
    assert!(!log.contains(&key), "the API key leaked into the log");
    assert!(
        !log.contains("apiKey="),
        "a query string leaked into the log"
    );
}

#[tokio::test]
async fn the_header_key_and_the_query_key_both_authenticate() {
    let (_database, topic, gateway) = setup().await;
    let key = register(&gateway.env, "both", &[]);
    assert_eq!(post(&gateway, "both", &key, "[1]").await.status(), 202);
    let by_query = reqwest::Client::new()
        .post(gateway.url(&format!("/webhooks/both?apiKey={key}")))
        .header("content-type", "application/json")
        .body("[2]")
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 202);
    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        Some(2),
        Duration::from_secs(5),
    );
    let payloads: Vec<&Value> = records.iter().map(|r| &r.value["payload"]).collect();
    assert_eq!(payloads, vec![&json!([1]), &json!([2])]);
}

struct Refusal {
    status: u16,
    kind: &'static str,
}

async fn expect_problem(response: reqwest::Response, expected: Refusal) {
    assert_eq!(
        response.status(),
        expected.status,
        "expected {}",
        expected.kind
    );
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        format!("https://webhooks.flowx.ai/problems/{}", expected.kind)
    );
    assert_eq!(problem["status"], expected.status);
}

#[tokio::test]
async fn refused_calls_get_problem_json_and_publish_nothing() {
    let (_database, topic, gateway) = setup().await;
    let key = register(&gateway.env, "guarded", &["--max-body-bytes", "64"]);
    let _ = register(&gateway.env, "dormant", &["--inactive"]);
    let dormant_key = register(&gateway.env, "dormant", &["--inactive", "--new-key"]);
    let client = reqwest::Client::new();
    let call = |id: &str| client.post(gateway.url(&format!("/webhooks/{id}")));

    let unknown = call("no-such-hook")
        .header("x-api-key", &key)
        .header("content-type", "application/json");
    expect_problem(
        unknown.body("{}").send().await.unwrap(),
        Refusal {
            status: 404,
            kind: "webhook-not-found",
        },
    )
    .await;

    let traversal = call("..%2F..%2Fetc")
        .header("x-api-key", &key)
        .header("content-type", "application/json");
    assert_eq!(traversal.body("{}").send().await.unwrap().status(), 404);

    let no_key = call("guarded")
        .header("content-type", "application/json")
        .body("{}");
    let response = no_key.send().await.unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    expect_problem(
        response,
        Refusal {
            status: 401,
            kind: "invalid-api-key",
        },
    )
    .await;

    let wrong_key = call("guarded")
        .header("x-api-key", "whk_wrong")
        .header("content-type", "application/json");
    expect_problem(
        wrong_key.body("{}").send().await.unwrap(),
        Refusal {
            status: 401,
            kind: "invalid-api-key",
        },
    )
    .await;

    let other_hooks_key = call("guarded")
        .header("x-api-key", &dormant_key)
        .header("content-type", "application/json");
    expect_problem(
        other_hooks_key.body("{}").send().await.unwrap(),
        Refusal {
            status: 401,
            kind: "invalid-api-key",
        },
    )
    .await;

    let inactive = call("dormant")
        .header("x-api-key", &dormant_key)
        .header("content-type", "application/json");
    expect_problem(
        inactive.body("{}").send().await.unwrap(),
        Refusal {
            status: 403,
            kind: "webhook-inactive",
        },
    )
    .await;

    let text = call("guarded")
        .header("x-api-key", &key)
        .header("content-type", "text/plain");
    expect_problem(
        text.body("{}").send().await.unwrap(),
        Refusal {
            status: 415,
            kind: "unsupported-media-type",
        },
    )
    .await;

    let no_type = call("guarded").header("x-api-key", &key);
    expect_problem(
        no_type.body("{}").send().await.unwrap(),
        Refusal {
            status: 415,
            kind: "unsupported-media-type",
        },
    )
    .await;

    let declared_large = call("guarded")
        .header("x-api-key", &key)
        .header("content-type", "application/json");
    let large = format!("[\"{}\"]", "x".repeat(100));
    expect_problem(
        declared_large.body(large.clone()).send().await.unwrap(),
        Refusal {
            status: 413,
            kind: "payload-too-large",
        },
    )
    .await;

    let chunks = futures::stream::iter(
        (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"          "))),
    );
    let streamed = call("guarded")
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks));
    expect_problem(
        streamed.send().await.unwrap(),
        Refusal {
            status: 413,
            kind: "payload-too-large",
        },
    )
    .await;

    let broken = call("guarded")
        .header("x-api-key", &key)
        .header("content-type", "application/json");
    expect_problem(
        broken.body("{\"a\": ").send().await.unwrap(),
        Refusal {
            status: 400,
            kind: "malformed-json",
        },
    )
    .await;

    let not_utf8 = call("guarded")
        .header("x-api-key", &key)
        .header("content-type", "application/json");
    expect_problem(
        not_utf8.body(vec![b'"', 0xff, b'"']).send().await.unwrap(),
        Refusal {
            status: 400,
            kind: "malformed-json",
        },
    )
    .await;

    let get = client
        .get(gateway.url("/webhooks/guarded"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.headers()["allow"], "POST");
    expect_problem(
        get,
        Refusal {
            status: 405,
            kind: "method-not-allowed",
        },
    )
    .await;

    let elsewhere = client
        .post(gateway.url("/somewhere/else"))
        .send()
        .await
        .unwrap();
    expect_problem(
        elsewhere,
        Refusal {
            status: 404,
            kind: "not-found",
        },
    )
    .await;

    assert_eq!(
        post(&gateway, "guarded", &key, r#"{"last":true}"#)
            .await
            .status(),
        202
    );
    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        None,
        Duration::from_secs(2),
    );
    assert_eq!(
        records.len(),
        1,
        "only the last, valid call may be published: {records:?}"
    );
    assert_eq!(records[0].value["payload"], json!({"last": true}));
}

#[tokio::test]
async fn actuator_reports_health_metrics_and_build() {
    let (_database, _topic, gateway) = setup().await;
    let key = register(&gateway.env, "counted", &[]);
    assert_eq!(post(&gateway, "counted", &key, "{}").await.status(), 202);
    assert_eq!(
        post(&gateway, "counted", "whk_wrong", "{}").await.status(),
        401
    );

    let health: Value = reqwest::get(gateway.url("/actuator/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "UP");
    for component in ["postgres", "redis", "kafka"] {
        assert_eq!(
            health["components"][component]["status"], "UP",
            "{component}: {health}"
        );
    }
    let liveness = reqwest::get(gateway.url("/actuator/health/liveness"))
        .await
        .unwrap();
    assert_eq!(liveness.status(), 200);

    let metrics = reqwest::get(gateway.url("/actuator/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"webhook_requests_total{outcome="accepted"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"webhook_requests_total{outcome="invalid-api-key"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("webhook_request_duration_seconds_bucket"));
    assert!(metrics.contains("webhook_publish_duration_seconds_count 1"));
    // Whether the second call hits depends on when the registration's change notice arrives;
    // either way each call looks in the in-process cache exactly once.
    let local_lookups = metric(
        &metrics,
        r#"webhook_registration_cache_total{layer="local",result="hit"}"#,
    ) + metric(
        &metrics,
        r#"webhook_registration_cache_total{layer="local",result="miss"}"#,
    );
    assert_eq!(local_lookups, 2.0, "{metrics}");

    let info: Value = reqwest::get(gateway.url("/actuator/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["build"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        info["git"]["commit"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn a_missing_topic_shows_in_health_and_calls_get_503() {
    let database = TestDatabase::create().await;
    let mut env = Gateway::stack_env(&database, "test.never.created");
    crate::support::set(&mut env, "WEBHOOK_GATEWAY_PUBLISH_TIMEOUT_MS", "1000");
    let gateway = Gateway::start(env).await;
    let key = register(&gateway.env, "lost", &[]);

    let response = post(&gateway, "lost", &key, "{}").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");

    let health = reqwest::get(gateway.url("/actuator/health")).await.unwrap();
    assert_eq!(health.status(), 503);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["components"]["kafka"]["status"], "DOWN");
    let error = health["components"]["kafka"]["details"]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("test.never.created"), "{error}");
}

#[tokio::test]
async fn deeply_nested_json_is_answered_and_the_gateway_keeps_serving() {
    let (_database, _topic, gateway) = setup().await;
    let key = register(&gateway.env, "deep", &[]);
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let status = post(&gateway, "deep", &key, &deep).await.status();
    assert!(status == 202 || status == 400, "{status}");
    assert_eq!(post(&gateway, "deep", &key, "[]").await.status(), 202);
}

/// The value of one series in a Prometheus text exposition (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}
