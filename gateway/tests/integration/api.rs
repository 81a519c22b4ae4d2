//! The management API against the real OIDC provider and the real SpiceDB of the local stack:
//! token validation in both modes, workspace permissions, the webhook lifecycle, the OpenAPI
//! document, and SpiceDB outages.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::{
    Gateway, SECURITY_VARIABLES, TestDatabase, client_secret, create_topic, eventually, free_port,
    post, read_topic, set, stack_var, token,
};

fn api_env(database: &TestDatabase, topic: &str, mode: &str) -> Vec<(String, String)> {
    let mut env = Gateway::stack_env(database, topic);
    for name in SECURITY_VARIABLES {
        env.push((name.to_string(), stack_var(name)));
    }
    env.push(("SECURITY_TYPE".into(), mode.into()));
    env
}

async fn start(mode: &str) -> (TestDatabase, String, Gateway) {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let gateway = Gateway::start(api_env(&database, &topic, mode)).await;
    (database, topic, gateway)
}

/// A token signed by the provider's real key (or an untrusted one) with chosen claims.
async fn minted(claims: Value, ttl: i64, key: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/test/mint", stack_var("WHGW_OIDC_URL")))
        .json(&json!({ "client_id": "alice", "ttl": ttl, "claims": claims, "key": key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

fn webhooks_url(gateway: &Gateway, workspace: &str) -> String {
    gateway.url(&format!("/api/workspaces/{workspace}/webhooks"))
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_webhook_lives_its_whole_life_through_the_api() {
    let (_database, topic, gateway) = start("oauth2").await;
    let alice = token("alice").await;
    let base = webhooks_url(&gateway, "ws-alpha");

    let created = call(
        reqwest::Method::POST,
        &base,
        Some(&alice),
        Some(json!({ "id": "orders", "name": "Orders", "startEvent": "order_created", "organizationId": "org-1" })),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/webhooks/orders")
    );
    let created: Value = created.json().await.unwrap();
    let key = created["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(created["webhook"]["managedBy"], "api");
    assert_eq!(created["webhook"]["url"], gateway.url("/webhooks/orders"));

    let again = call(
        reqwest::Method::POST,
        &base,
        Some(&alice),
        Some(json!({ "id": "orders", "name": "x" })),
    )
    .await;
    assert_eq!(again.status(), 409);

    let fetched: Value = call(
        reqwest::Method::GET,
        &format!("{base}/orders"),
        Some(&alice),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(fetched["name"], "Orders");
    assert!(fetched.get("apiKey").is_none(), "a key is shown only once");

    for name in ["Payments", "Refunds"] {
        let response = call(
            reqwest::Method::POST,
            &base,
            Some(&alice),
            Some(json!({ "name": name, "active": false })),
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    let page: Value = call(
        reqwest::Method::GET,
        &format!("{base}?size=2&page=0"),
        Some(&alice),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let inactive: Value = call(
        reqwest::Method::GET,
        &format!("{base}?active=false&name=fund"),
        Some(&alice),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(inactive["total"], 1);
    assert_eq!(inactive["items"][0]["name"], "Refunds");

    assert_eq!(
        post(&gateway, "orders", &key, r#"{"n":1}"#).await.status(),
        202
    );
    let logged = eventually(Duration::from_secs(3), || async {
        let deliveries: Value = call(
            reqwest::Method::GET,
            &format!("{base}/orders/deliveries"),
            Some(&alice),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        deliveries["items"].as_array().is_some_and(|items| {
            items.first().is_some_and(|d| {
                d["outcome"] == "accepted" && d["status"] == 202 && d.get("payload").is_none()
            })
        })
    })
    .await;
    assert!(logged, "the accepted call is not in the delivery log");

    let updated = call(
        reqwest::Method::PUT,
        &format!("{base}/orders"),
        Some(&alice),
        Some(json!({ "name": "Orders v2", "startEvent": "order_created" })),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["webhook"]["name"], "Orders v2");
    assert!(
        updated.get("apiKey").is_none(),
        "the key changes only with the scheme"
    );

    let off = call(
        reqwest::Method::POST,
        &format!("{base}/orders/deactivate"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(off.json::<Value>().await.unwrap()["active"], false);
    let refused = eventually(Duration::from_secs(3), || async {
        post(&gateway, "orders", &key, "{}").await.status() == 403
    })
    .await;
    assert!(refused);
    call(
        reqwest::Method::POST,
        &format!("{base}/orders/activate"),
        Some(&alice),
        None,
    )
    .await;

    let rotated: Value = call(
        reqwest::Method::POST,
        &format!("{base}/orders/rotate-secret"),
        Some(&alice),
        Some(json!({ "graceSeconds": 60 })),
    )
    .await
    .json()
    .await
    .unwrap();
    let new_key = rotated["apiKey"].as_str().unwrap().to_owned();
    let both = eventually(Duration::from_secs(3), || async {
        post(&gateway, "orders", &new_key, "{}").await.status() == 202
    })
    .await;
    assert!(both);
    assert_eq!(
        post(&gateway, "orders", &key, "{}").await.status(),
        202,
        "the old key is valid during its grace"
    );

    let url: Value = call(
        reqwest::Method::GET,
        &format!("{base}/orders/url"),
        Some(&alice),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(url["url"], gateway.url("/webhooks/orders"));

    assert_eq!(
        call(
            reqwest::Method::DELETE,
            &format!("{base}/orders"),
            Some(&alice),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        call(
            reqwest::Method::GET,
            &format!("{base}/orders"),
            Some(&alice),
            None
        )
        .await
        .status(),
        404
    );
    let gone = eventually(Duration::from_secs(3), || async {
        post(&gateway, "orders", &new_key, "{}").await.status() == 404
    })
    .await;
    assert!(gone);

    let records = read_topic(
        &stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS"),
        &topic,
        None,
        Duration::from_secs(2),
    );
    assert!(records.iter().all(|r| r.value["workspaceId"] == "ws-alpha"));
}

#[tokio::test]
async fn validation_errors_name_every_bad_field_and_change_nothing() {
    let (database, _topic, gateway) = start("oauth2").await;
    let alice = token("alice").await;
    let response = call(
        reqwest::Method::POST,
        &webhooks_url(&gateway, "ws-alpha"),
        Some(&alice),
        Some(json!({
            "id": "../bad",
            "name": "",
            "topic": "no spaces",
            "allowedCidrs": ["10.0.0.0/8", "nonsense"],
            "response": { "status": 201 },
            "auth": { "type": "hmac", "header": "x-sig" },
        })),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body = problem(response).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "id",
        "name",
        "topic",
        "allowedCidrs[1]",
        "response.status",
        "auth",
    ] {
        assert!(fields.contains(&field), "{field} not reported: {body}");
    }
    let unknown = call(
        reqwest::Method::POST,
        &webhooks_url(&gateway, "ws-alpha"),
        Some(&alice),
        Some(json!({ "name": "x", "colour": "red" })),
    )
    .await;
    assert_eq!(unknown.status(), 400);
    let rows = database
        .client()
        .await
        .query("SELECT id FROM webhook_registrations", &[])
        .await
        .unwrap();
    assert!(rows.is_empty());
}

async fn refuses_the_attack_list(mode: &str) {
    let (_database, _topic, gateway) = start(mode).await;
    let url = webhooks_url(&gateway, "ws-alpha");
    let get = |token: Option<String>| {
        let url = url.clone();
        async move { call(reqwest::Method::GET, &url, token.as_deref(), None).await }
    };

    let missing = get(None).await;
    assert_eq!(missing.status(), 401);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let real = token("alice").await;
    let parts: Vec<&str> = real.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let unsigned_header = URL_SAFE_NO_PAD
        .encode(json!({ "alg": "none", "typ": "JWT", "kid": header["kid"] }).to_string());
    let alg_none = format!("{unsigned_header}.{}.", parts[1]);

    let realm: Value = reqwest::get(stack_var("WHGW_OIDC_ISSUER"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        realm["public_key"].as_str().unwrap()
    );
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = header["kid"].as_str().map(str::to_owned);
    let hs256_with_public_key = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();

    let attacks = [
        ("garbage", "not.a.token".to_owned()),
        ("alg none", alg_none),
        ("HS256 with the public key", hs256_with_public_key),
        (
            "wrong issuer",
            minted(
                json!({ "iss": "http://evil.example/realms/flowx" }),
                300,
                "provider",
            )
            .await,
        ),
        (
            "wrong audience",
            minted(json!({ "aud": "someone-else" }), 300, "provider").await,
        ),
        ("expired", minted(json!({}), -120, "provider").await),
        ("untrusted key", minted(json!({}), 300, "untrusted").await),
        (
            "no subject",
            minted(json!({ "sub": null }), 300, "provider").await,
        ),
    ];
    for (name, token) in attacks {
        let response = get(Some(token)).await;
        assert_eq!(response.status(), 401, "{mode}: {name} was not refused");
        let body = problem(response).await;
        assert_eq!(
            body["type"],
            "https://webhooks.flowx.ai/problems/invalid-token"
        );
    }
    assert_eq!(
        get(Some(minted(json!({}), 300, "provider").await))
            .await
            .status(),
        200,
        "{mode}: a good minted token"
    );
    assert_eq!(get(Some(real)).await.status(), 200);

    let mallory = token("mallory").await;
    assert_eq!(get(Some(mallory)).await.status(), 403);
    let bob = token("bob").await;
    assert_eq!(
        get(Some(bob.clone())).await.status(),
        200,
        "bob may view ws-alpha"
    );
    let create = call(
        reqwest::Method::POST,
        &url,
        Some(&bob),
        Some(json!({ "name": "not allowed" })),
    )
    .await;
    assert_eq!(create.status(), 403, "bob may not manage ws-alpha");
}

#[tokio::test]
async fn refuses_the_attack_list_with_introspection() {
    refuses_the_attack_list("oauth2").await;
}

#[tokio::test]
async fn refuses_the_attack_list_with_local_keys() {
    refuses_the_attack_list("jwt-public-key").await;
}

#[tokio::test]
async fn another_workspace_cannot_reach_a_webhook_by_its_id() {
    let (_database, _topic, gateway) = start("jwt-public-key").await;
    let alice = token("alice").await;
    let bob = token("bob").await;
    let created = call(
        reqwest::Method::POST,
        &webhooks_url(&gateway, "ws-alpha"),
        Some(&alice),
        Some(json!({ "id": "secret-hook", "name": "Alpha only" })),
    )
    .await;
    assert_eq!(created.status(), 201);

    let beta = webhooks_url(&gateway, "ws-beta");
    for path in ["secret-hook", "secret-hook/url", "secret-hook/deliveries"] {
        let response = call(
            reqwest::Method::GET,
            &format!("{beta}/{path}"),
            Some(&bob),
            None,
        )
        .await;
        assert_eq!(
            response.status(),
            404,
            "bob reached {path} of ws-alpha through ws-beta"
        );
    }
    let delete = call(
        reqwest::Method::DELETE,
        &format!("{beta}/secret-hook"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(delete.status(), 404);

    for id in ["secret-hook", "does-not-exist"] {
        let response = call(
            reqwest::Method::GET,
            &format!("{beta}/{id}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(
            response.status(),
            403,
            "a denied caller must not learn whether {id} exists"
        );
    }
    let still: Value = call(
        reqwest::Method::GET,
        &format!("{}/secret-hook", webhooks_url(&gateway, "ws-alpha")),
        Some(&alice),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(still["name"], "Alpha only");
}

#[tokio::test]
async fn kubernetes_managed_webhooks_are_visible_but_read_only() {
    let (database, _topic, gateway) = start("oauth2").await;
    database
        .client()
        .await
        .batch_execute(
            "INSERT INTO webhook_registrations (id, name, workspace_id, managed_by, owner) \
             VALUES ('from-git', 'From Git', 'ws-alpha', 'kubernetes', 'flowx/from-git')",
        )
        .await
        .unwrap();
    let alice = token("alice").await;
    let base = webhooks_url(&gateway, "ws-alpha");
    let fetched: Value = call(
        reqwest::Method::GET,
        &format!("{base}/from-git"),
        Some(&alice),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(fetched["managedBy"], "kubernetes");
    let attempts = [
        (
            reqwest::Method::PUT,
            "from-git",
            Some(json!({ "name": "changed" })),
        ),
        (reqwest::Method::DELETE, "from-git", None),
        (reqwest::Method::POST, "from-git/deactivate", None),
        (reqwest::Method::POST, "from-git/rotate-secret", None),
    ];
    for (method, path, body) in attempts {
        let response = call(
            method.clone(),
            &format!("{base}/{path}"),
            Some(&alice),
            body,
        )
        .await;
        assert_eq!(response.status(), 409, "{method} {path}");
        let body = problem(response).await;
        assert_eq!(
            body["type"],
            "https://webhooks.flowx.ai/problems/managed-by-kubernetes"
        );
        assert!(body["detail"].as_str().unwrap().contains("Kubernetes"));
    }
}

#[tokio::test]
async fn spicedb_down_closes_the_api_but_not_the_webhooks() {
    let database = TestDatabase::create().await;
    let topic = create_topic(&stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS")).await;
    let port = free_port();
    let key = "private-spicedb-key";
    let mut spicedb = std::process::Command::new(stack_var("WHGW_SPICEDB_SERVER"))
        .args(["--grpc-addr", &format!("127.0.0.1:{port}")])
        .args([
            "--datastore-bootstrap-files",
            &stack_var("WHGW_SPICEDB_BOOTSTRAP"),
        ])
        .env("SPICEDB_GRPC_PRESHARED_KEY", key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = eventually(Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;
    assert!(up, "private SpiceDB did not start");

    let mut env = api_env(&database, &topic, "oauth2");
    set(
        &mut env,
        "FLOWX_LIB_CASCLIENT_SPICEDB_PORT",
        &port.to_string(),
    );
    set(&mut env, "FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN", key);
    set(&mut env, "WEBHOOK_GATEWAY_AUTHZ_CACHE_MS", "0");
    let gateway = Gateway::start(env.clone()).await;
    let alice = token("alice").await;
    let base = webhooks_url(&gateway, "ws-alpha");
    let created: Value = call(
        reqwest::Method::POST,
        &base,
        Some(&alice),
        Some(json!({ "id": "steady", "name": "Steady" })),
    )
    .await
    .json()
    .await
    .unwrap();
    let hook_key = created["apiKey"].as_str().unwrap().to_owned();

    spicedb.kill().unwrap();
    spicedb.wait().unwrap();
    for token in [token("alice").await, token("mallory").await] {
        let response = call(reqwest::Method::GET, &base, Some(&token), None).await;
        assert_eq!(
            response.status(),
            503,
            "SpiceDB down must never allow nor deny"
        );
        assert!(response.headers().contains_key("retry-after"));
        assert_eq!(
            problem(response).await["type"],
            "https://webhooks.flowx.ai/problems/authorization-unavailable"
        );
    }
    assert_eq!(
        post(&gateway, "steady", &hook_key, "{}").await.status(),
        202
    );
    let health: Value = reqwest::get(gateway.url("/actuator/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "UP");
    assert_eq!(health["components"]["spicedb"]["status"], "DOWN");
}

#[tokio::test]
async fn without_a_provider_the_api_answers_503() {
    let database = TestDatabase::create().await;
    let gateway = Gateway::start(Gateway::stack_env(&database, "unused")).await;
    let response = call(
        reqwest::Method::GET,
        &webhooks_url(&gateway, "ws-alpha"),
        Some("anything"),
        None,
    )
    .await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        problem(response).await["type"],
        "https://webhooks.flowx.ai/problems/api-not-configured"
    );
}

/// Fills a path template of the OpenAPI document.
fn concrete(path: &str) -> String {
    path.replace("{workspace}", "ws-alpha")
        .replace("{webhookId}", "documented")
}

#[tokio::test]
async fn every_documented_operation_exists_and_answers_as_documented() {
    let (_database, _topic, gateway) = start("oauth2").await;
    let document: Value = reqwest::get(gateway.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let alice = token("alice").await;
    let created: Value = call(
        reqwest::Method::POST,
        &webhooks_url(&gateway, "ws-alpha"),
        Some(&alice),
        Some(json!({ "id": "documented", "name": "Documented" })),
    )
    .await
    .json()
    .await
    .unwrap();
    let key = created["apiKey"].as_str().unwrap().to_owned();

    let mut checked = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let url = gateway.url(&concrete(path));
            let body = match (path.as_str(), method.as_str()) {
                ("/api/workspaces/{workspace}/webhooks", "POST") => {
                    Some(json!({ "name": "Another" }))
                }
                (_, "PUT") => Some(json!({ "name": "Documented again" })),
                (_, "POST") if path.starts_with("/api") => Some(json!({})),
                _ => None,
            };
            let response = if path.starts_with("/webhooks") {
                post(&gateway, "documented", &key, "{}").await
            } else {
                call(method.clone(), &url, Some(&alice), body).await
            };
            let status = response.status().as_u16().to_string();
            assert!(
                operation["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, which the document does not list"
            );
            let text = response.text().await.unwrap_or_default();
            assert!(
                !text.contains("problems/not-found\""),
                "{method} {path} is documented but not served"
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} operations checked");
    let undocumented = call(
        reqwest::Method::GET,
        &gateway.url("/api/workspaces/ws-alpha/hooks"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(undocumented.status(), 404);
}

#[tokio::test]
async fn the_service_account_token_is_fetched_once_and_reused() {
    let lookup = |name: &str| std::env::var(name).ok();
    let config = webhook_gateway::config::Config::from_lookup(&lookup).unwrap();
    let account =
        webhook_gateway::api::service_account::ServiceAccount::new(&config.security).unwrap();
    let first = account.token().await.unwrap();
    let second = account.token().await.unwrap();
    assert_eq!(first, second, "a valid token must be reused");
    let claims = first.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["azp"], "flowx-webhook-gateway-sa");
}

#[test]
fn the_kafka_oauthbearer_token_comes_from_the_provider_by_client_credentials() {
    use rdkafka::client::ClientContext;
    use webhook_gateway::config::{KafkaOAuth, Secret};
    use webhook_gateway::publish::GatewayContext;

    let oauth = KafkaOAuth {
        client_id: "alice".into(),
        client_secret: Secret::new(client_secret("alice")),
        token_endpoint_uri: format!(
            "{}/protocol/openid-connect/token",
            stack_var("WHGW_OIDC_ISSUER")
        ),
    };
    let context = GatewayContext::with_oauth(oauth, Duration::ZERO);
    let token = context
        .generate_oauth_token(None)
        .expect("a token from the provider");
    assert_eq!(token.token.split('.').count(), 3, "a JWT access token");
    assert_eq!(token.principal_name, "alice");
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!(
        token.lifetime_ms > now_ms + 60_000,
        "the lifetime must be an absolute time in the future"
    );

    let wrong = KafkaOAuth {
        client_id: "alice".into(),
        client_secret: Secret::new("wrong"),
        token_endpoint_uri: format!(
            "{}/protocol/openid-connect/token",
            stack_var("WHGW_OIDC_ISSUER")
        ),
    };
    assert!(
        GatewayContext::with_oauth(wrong, Duration::ZERO)
            .generate_oauth_token(None)
            .is_err()
    );
}

#[tokio::test]
async fn odd_paging_queries_workspaces_and_nul_characters_get_4xx_not_5xx() {
    let (_database, _topic, gateway) = start("oauth2").await;
    let alice = token("alice").await;
    let base = webhooks_url(&gateway, "ws-alpha");
    for query in [
        "?page=46116860184273880&size=200",
        "?name=a%00b",
        "?size=x",
        "?size=1&size=2",
    ] {
        let response = call(
            reqwest::Method::GET,
            &format!("{base}{query}"),
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(response.status(), 400, "{query}");
        problem(response).await;
    }
    let nul = call(
        reqwest::Method::POST,
        &base,
        Some(&alice),
        Some(json!({ "name": "a\u{0}b" })),
    )
    .await;
    assert_eq!(nul.status(), 400);
    let odd = call(
        reqwest::Method::GET,
        &webhooks_url(&gateway, "not%20a%20workspace!"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(
        odd.status(),
        403,
        "a workspace SpiceDB cannot name is simply not granted"
    );
}
