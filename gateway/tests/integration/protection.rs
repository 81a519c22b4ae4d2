//! Authentication schemes over raw bytes, sealed secrets, duplicate suppression, rate limits,
//! source allow-lists and per-webhook answers, end to end through a running gateway.

use std::io::{Read, Write};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{
    Gateway, Service, TestDatabase, create_topic, manage, read_topic, register, set, stack_var,
};

fn hmac_sha256(key: &[u8], content: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(content);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn setup() -> (TestDatabase, String, Gateway) {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let gateway = Gateway::start(Gateway::stack_env(&database, &topic)).await;
    (database, topic, gateway)
}

fn bootstrap() -> String {
    stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")
}

async fn send(
    gateway: &Gateway,
    id: &str,
    content_type: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(gateway.url(&format!("/webhooks/{id}")))
        .header("content-type", content_type);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.body(body.to_vec()).send().await.unwrap()
}

async fn problem_type(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("https://webhooks.flowx.ai/problems/")
        .to_owned()
}

#[tokio::test]
async fn github_signatures_are_checked_over_the_raw_body() {
    let (database, topic, gateway) = setup().await;
    let secret = "It's a Secret to Everybody";
    register(
        &gateway.env,
        "github",
        &["--auth", "github", "--secret", secret],
    );
    let body = br#"{"action":"opened",  "number": 1}"#;
    let signature = format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), body)));
    let delivery = (
        "x-github-delivery",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
    );

    let signed = [("x-hub-signature-256", signature.clone()), delivery.clone()];
    let response = send(&gateway, "github", "application/json", &signed, body).await;
    assert_eq!(response.status(), 202);

    let reserialized = serde_json::to_vec(&serde_json::from_slice::<Value>(body).unwrap()).unwrap();
    let response = send(
        &gateway,
        "github",
        "application/json",
        &signed,
        &reserialized,
    )
    .await;
    assert_eq!(
        response.status(),
        401,
        "a re-serialized body must not verify"
    );
    assert_eq!(problem_type(response).await, "invalid-signature");

    let unsigned = [delivery.clone()];
    let response = send(&gateway, "github", "application/json", &unsigned, body).await;
    assert_eq!(problem_type(response).await, "missing-signature");

    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].value["payload"],
        serde_json::from_slice::<Value>(body).unwrap()
    );

    let rows = database
        .client()
        .await
        .query("SELECT sealed, key_id FROM webhook_credentials", &[])
        .await
        .unwrap();
    let sealed: Vec<u8> = rows[0].get(0);
    let key_id: String = rows[0].get(1);
    assert_eq!(key_id, "test");
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "secret stored in clear"
    );
    assert!(
        !gateway.log_text().contains(&signature),
        "a signature leaked into the log"
    );
}

fn standard_headers(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    let signature = STANDARD.encode(hmac_sha256(&key, &content));
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", format!("v1,{signature}")),
    ]
}

#[tokio::test]
async fn standard_webhooks_rotate_secrets_reject_stale_calls_and_suppress_duplicates() {
    let (_database, topic, gateway) = setup().await;
    let old = register(&gateway.env, "std", &["--auth", "standard-webhooks"]);
    assert!(old.starts_with("whsec_"));
    let now = chrono::Utc::now().timestamp();
    let body = br#"{"type":"invoice.paid"}"#;

    let first = send(
        &gateway,
        "std",
        "application/json",
        &standard_headers(&old, "msg_1", now, body),
        body,
    )
    .await;
    assert_eq!(first.status(), 202);
    let first_id = first.headers()["x-event-id"].to_str().unwrap().to_owned();

    let again = send(
        &gateway,
        "std",
        "application/json",
        &standard_headers(&old, "msg_1", now, body),
        body,
    )
    .await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.headers()["x-event-id"].to_str().unwrap(),
        first_id,
        "a duplicate gets the original answer"
    );

    let stale = standard_headers(&old, "msg_2", now - 600, body);
    let response = send(&gateway, "std", "application/json", &stale, body).await;
    assert_eq!(response.status(), 401);
    assert_eq!(problem_type(response).await, "stale-timestamp");
    let future = standard_headers(&old, "msg_3", now + 600, body);
    assert_eq!(
        problem_type(send(&gateway, "std", "application/json", &future, body).await).await,
        "future-timestamp"
    );

    let printed = manage(
        &gateway.env,
        &[
            "rotate-secret",
            "std",
            "--grace-seconds",
            "2",
            "--output",
            "json",
        ],
    );
    let new = serde_json::from_str::<Value>(&printed).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_new = crate::support::eventually(Duration::from_secs(3), || async {
        let headers = standard_headers(&new, "msg_4", chrono::Utc::now().timestamp(), body);
        send(&gateway, "std", "application/json", &headers, body)
            .await
            .status()
            == 202
    })
    .await;
    assert!(with_new, "the new secret is not accepted");
    let headers = standard_headers(&old, "msg_5", chrono::Utc::now().timestamp(), body);
    assert_eq!(
        send(&gateway, "std", "application/json", &headers, body)
            .await
            .status(),
        202,
        "old secret within grace"
    );

    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let headers = standard_headers(&old, "msg_6", chrono::Utc::now().timestamp(), body);
    let response = send(&gateway, "std", "application/json", &headers, body).await;
    assert_eq!(
        response.status(),
        401,
        "a rotated-out secret still verifies"
    );

    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    assert_eq!(records.len(), 3, "msg_1 once, msg_4 and msg_5: {records:?}");
}

#[tokio::test]
async fn slack_form_bodies_are_forwarded_as_json_and_the_challenge_is_answered() {
    let (_database, topic, gateway) = setup().await;
    let secret = register(&gateway.env, "slack", &["--auth", "slack"]);
    let sign = |body: &[u8]| {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let mut base = format!("v0:{timestamp}:").into_bytes();
        base.extend_from_slice(body);
        vec![
            ("x-slack-request-timestamp", timestamp),
            (
                "x-slack-signature",
                format!("v0={}", hex(&hmac_sha256(secret.as_bytes(), &base))),
            ),
        ]
    };

    let form = b"command=%2Fdeploy&text=prod+now&user_id=U1";
    let response = send(
        &gateway,
        "slack",
        "application/x-www-form-urlencoded",
        &sign(form),
        form,
    )
    .await;
    assert_eq!(response.status(), 202);

    let challenge = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let response = send(
        &gateway,
        "slack",
        "application/json",
        &sign(challenge),
        challenge,
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let forged = send(&gateway, "slack", "application/json", &[], challenge).await;
    assert_eq!(
        forged.status(),
        401,
        "an unsigned challenge must not be answered"
    );

    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    assert_eq!(records.len(), 1, "the handshake is not an event");
    assert_eq!(
        records[0].value["payload"],
        json!({"command": "/deploy", "text": "prod now", "user_id": "U1"})
    );
}

#[tokio::test]
async fn gitlab_tokens_basic_credentials_and_an_explicit_none_are_honoured() {
    let (_database, topic, gateway) = setup().await;
    let token = register(&gateway.env, "gitlab", &["--auth", "gitlab"]);
    register(
        &gateway.env,
        "basic",
        &[
            "--auth",
            "basic",
            "--basic-username",
            "erp",
            "--secret",
            "pa55word",
        ],
    );
    register(&gateway.env, "open", &["--auth", "none"]);

    let ok = send(
        &gateway,
        "gitlab",
        "application/json",
        &[("x-gitlab-token", token.clone())],
        b"{}",
    )
    .await;
    assert_eq!(ok.status(), 202);
    let bad = send(
        &gateway,
        "gitlab",
        "application/json",
        &[("x-gitlab-token", "nope".into())],
        b"{}",
    )
    .await;
    assert_eq!(bad.status(), 401);

    let basic = |user: &str, password: &str| {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
    };
    let ok = send(
        &gateway,
        "basic",
        "application/json",
        &[("authorization", basic("erp", "pa55word"))],
        b"{}",
    )
    .await;
    assert_eq!(ok.status(), 202);
    for (user, password) in [("erp", "wrong"), ("other", "pa55word")] {
        let refused = send(
            &gateway,
            "basic",
            "application/json",
            &[("authorization", basic(user, password))],
            b"{}",
        )
        .await;
        assert_eq!(refused.status(), 401);
    }
    assert_eq!(
        send(&gateway, "open", "application/json", &[], b"{}")
            .await
            .status(),
        202
    );

    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    assert_eq!(records.len(), 3);
    for record in &records {
        assert!(record.value["headers"].get("authorization").is_none());
    }
}

#[tokio::test]
async fn signing_secrets_cannot_be_used_without_the_sealing_key() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&bootstrap()).await;
    let env = Gateway::stack_env(&database, &topic);
    let secret = register(&env, "sealed", &["--auth", "shopify"]);
    let mut without_key = env.clone();
    set(&mut without_key, "WEBHOOK_GATEWAY_SEALING_KEYS", "");
    let gateway = Gateway::start(without_key).await;

    let body = br#"{"id":1}"#;
    let signature = STANDARD.encode(hmac_sha256(secret.as_bytes(), body));
    let response = send(
        &gateway,
        "sealed",
        "application/json",
        &[("x-shopify-hmac-sha256", signature)],
        body,
    )
    .await;
    assert_eq!(response.status(), 503);
    assert_eq!(problem_type(response).await, "secrets-unavailable");

    let output = crate::support::command(&{
        let mut no_key = env.clone();
        set(&mut no_key, "WEBHOOK_GATEWAY_SEALING_KEYS", "");
        no_key
    })
    .args([
        "register",
        "--id",
        "other",
        "--name",
        "x",
        "--workspace",
        "w",
        "--auth",
        "github",
    ])
    .output()
    .unwrap();
    assert!(
        !output.status.success(),
        "a signing secret was accepted without a key to seal it"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("WEBHOOK_GATEWAY_SEALING_KEYS"));
}

#[tokio::test]
async fn event_ids_from_a_json_pointer_suppress_duplicates() {
    let (_database, topic, gateway) = setup().await;
    let key = register(
        &gateway.env,
        "dedupe",
        &["--idempotency-json-pointer", "/id"],
    );
    let call = |body: &'static str| {
        let key = key.clone();
        let gateway = &gateway;
        async move {
            send(
                gateway,
                "dedupe",
                "application/json",
                &[("x-api-key", key)],
                body.as_bytes(),
            )
            .await
        }
    };
    let first = call(r#"{"id":"evt_1","n":1}"#).await;
    let second = call(r#"{"id":"evt_1","n":2}"#).await;
    let third = call(r#"{"id":"evt_2","n":3}"#).await;
    assert_eq!(
        first.headers()["x-event-id"],
        second.headers()["x-event-id"]
    );
    assert_ne!(first.headers()["x-event-id"], third.headers()["x-event-id"]);
    let records = read_topic(&bootstrap(), &topic, None, Duration::from_secs(2));
    let numbers: Vec<i64> = records
        .iter()
        .map(|r| r.value["payload"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 3]);
}

#[tokio::test]
async fn rate_limits_are_shared_by_replicas_and_kept_while_redis_is_down() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&bootstrap()).await;
    let mut redis = Service::redis().await;
    let mut env = Gateway::stack_env(&database, &topic);
    set(&mut env, "SPRING_DATA_REDIS_PORT", &redis.port.to_string());
    let first = Gateway::start(env.clone()).await;
    let second = Gateway::start(env.clone()).await;
    let key = register(&env, "limited", &["--rate-limit", "1", "--burst", "2"]);
    let call = |gateway: &Gateway| {
        let key = key.clone();
        let url = gateway.url("/webhooks/limited");
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("x-api-key", key)
                .body("{}")
                .send()
                .await
                .unwrap()
        }
    };

    // Alternate between the replicas: with a shared bucket they admit together no more than
    // the burst plus what refilled meanwhile; separate buckets would admit twice the burst.
    let started = std::time::Instant::now();
    let mut accepted = 0;
    let mut limited = None;
    for round in 0..6 {
        let gateway = if round % 2 == 0 { &first } else { &second };
        let response = call(gateway).await;
        match response.status().as_u16() {
            202 => accepted += 1,
            429 => limited = Some(response),
            other => panic!("unexpected status {other}"),
        }
    }
    let refilled = started.elapsed().as_secs_f64().ceil() as usize;
    assert!(
        accepted <= 2 + refilled,
        "{accepted} calls admitted in {refilled} s: the burst is not shared"
    );
    let limited = limited.expect("no call was limited");
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(problem_type(limited).await, "rate-limited");

    redis.kill();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(call(&first).await.status().as_u16());
    }
    assert!(
        statuses.contains(&429),
        "no local limit while Redis is down: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn source_allow_lists_trust_forwarded_addresses_only_from_trusted_proxies() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&bootstrap()).await;
    let env = Gateway::stack_env(&database, &topic);
    let direct = Gateway::start(env.clone()).await;
    let mut proxied_env = env.clone();
    set(
        &mut proxied_env,
        "WEBHOOK_GATEWAY_TRUSTED_PROXIES",
        "127.0.0.1/32",
    );
    let behind_proxy = Gateway::start(proxied_env).await;
    let key = register(&env, "office", &["--allow-cidr", "10.0.0.0/8"]);
    async fn call(gateway: &Gateway, key: &str, forwarded: Option<&str>) -> reqwest::Response {
        let mut headers = vec![("x-api-key", key.to_owned())];
        if let Some(address) = forwarded {
            headers.push(("x-forwarded-for", address.to_owned()));
        }
        send(gateway, "office", "application/json", &headers, b"{}").await
    }

    let refused = call(&direct, &key, None).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(problem_type(refused).await, "source-not-allowed");
    assert_eq!(
        call(&direct, &key, Some("10.1.2.3")).await.status(),
        403,
        "spoofed X-Forwarded-For believed"
    );
    assert_eq!(
        call(&behind_proxy, &key, Some("10.1.2.3")).await.status(),
        202
    );
    assert_eq!(
        call(&behind_proxy, &key, Some("10.1.2.3, 192.0.2.1"))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn webhooks_answer_with_their_own_status_and_body() {
    let (_database, _topic, gateway) = setup().await;
    let quiet = register(&gateway.env, "quiet", &["--response-status", "204"]);
    let polite = register(
        &gateway.env,
        "polite",
        &[
            "--response-status",
            "200",
            "--response-body",
            r#"{"ok":true}"#,
        ],
    );

    let response = send(
        &gateway,
        "quiet",
        "application/json",
        &[("x-api-key", quiet)],
        b"{}",
    )
    .await;
    assert_eq!(response.status(), 204);
    assert!(response.headers().contains_key("x-event-id"));
    let response = send(
        &gateway,
        "polite",
        "application/json",
        &[("x-api-key", polite)],
        b"{}",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"ok": true}));
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&bootstrap()).await;
    let mut env = Gateway::stack_env(&database, &topic);
    set(&mut env, "WEBHOOK_GATEWAY_HEADER_TIMEOUT_MS", "500");
    let gateway = Gateway::start(env).await;
    let port = gateway.port;
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"POST /webhooks/x HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            .unwrap();
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 512];
        let read = stream.read(&mut buffer);
        (
            started.elapsed(),
            read.map(|n| String::from_utf8_lossy(&buffer[..n]).into_owned()),
        )
    })
    .await
    .unwrap();
    let (waited, answer) = closed;
    assert!(
        waited < Duration::from_secs(3),
        "a slow client held the connection for {waited:?}"
    );
    let answer = answer.expect("the connection was neither answered nor closed");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}
