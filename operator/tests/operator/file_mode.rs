//! `webhook-operator apply -f` against the real PostgreSQL of the stack, then real calls through
//! a real gateway reading that database and publishing to the real broker.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::support::{self, Gateway, TestDatabase, stack_var};

const API_KEY: &str = "whk_file-mode-test-key-0123456789";
const GITHUB_SECRET: &str = "file-mode-github-secret";

const WEBHOOKS: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: crm-key}
stringData: {api-key: whk_file-mode-test-key-0123456789}
---
apiVersion: v1
kind: Secret
metadata: {name: github-secret}
stringData: {secret: file-mode-github-secret}
---
apiVersion: webhooks.flowx.ai/v1alpha1
kind: Webhook
metadata: {name: crm-lead}
spec:
  gatewayRef: {name: local}
  workspaceId: ws-sales
  organizationId: org-local
  target: {startEvent: lead_created}
  auth:
    type: api-key
    secretRef: {name: crm-key, key: api-key}
---
apiVersion: webhooks.flowx.ai/v1alpha1
kind: Webhook
metadata: {name: github-push}
spec:
  gatewayRef: {name: local}
  workspaceId: ws-dev
  target: {startEvent: code_pushed}
  auth:
    type: github
    secretRef: {name: github-secret, key: secret}
---
apiVersion: webhooks.flowx.ai/v1alpha1
kind: Webhook
metadata: {name: shop-orders}
spec:
  gatewayRef: {name: local}
  workspaceId: ws-sales
  target: {startEvent: order_created}
  auth: {type: api-key}
"#;

fn apply(database: &TestDatabase, paths: &[&Path]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_webhook-operator"));
    command
        .env_clear()
        .env("SPRING_DATASOURCE_URL", &database.jdbc_url)
        .env(
            "SPRING_DATASOURCE_USERNAME",
            stack_var("SPRING_DATASOURCE_USERNAME"),
        )
        .env(
            "SPRING_DATASOURCE_PASSWORD",
            stack_var("SPRING_DATASOURCE_PASSWORD"),
        )
        .env("WEBHOOK_GATEWAY_SEALING_KEYS", support::sealing_keys())
        .env("WEBHOOK_GATEWAY_PUBLIC_URL", "https://hooks.example.com/")
        .arg("apply");
    for path in paths {
        command.arg("-f").arg(path);
    }
    command.output().expect("webhook-operator runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn generated_key(report: &str, id: &str) -> String {
    let prefix = format!("  generated credential for {id} (shown once, keep it): ");
    report
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no generated credential for {id} in:\n{report}"))
        .to_owned()
}

async fn count_rows(database: &TestDatabase) -> i64 {
    let client = database.client().await;
    let row = client
        .query_one("SELECT count(*) FROM webhook_registrations", &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn applied_files_register_webhooks_that_the_gateway_serves() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("webhooks.yaml"), WEBHOOKS).unwrap();

    let first = apply(&database, &[dir.path()]);
    let report = stdout(&first);
    assert!(
        first.status.success(),
        "apply failed:\n{report}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for id in ["crm-lead", "github-push", "shop-orders"] {
        assert!(
            report.contains(&format!("webhook {id} (default/{id}): created")),
            "{report}"
        );
        assert!(
            report.contains(&format!("  url: https://hooks.example.com/webhooks/{id}\n")),
            "{report}"
        );
    }
    let shop_key = generated_key(&report, "shop-orders");
    assert!(!report.contains(API_KEY), "a key from a Secret was printed");

    let again = apply(&database, &[dir.path()]);
    let report = stdout(&again);
    assert!(again.status.success());
    for id in ["crm-lead", "github-push", "shop-orders"] {
        assert!(
            report.contains(&format!("webhook {id} (default/{id}): unchanged")),
            "{report}"
        );
    }
    assert!(!report.contains("generated credential"), "{report}");

    let bootstrap = stack_var("SPRING_KAFKA_BOOTSTRAP_SERVERS");
    let topic = support::create_topic(&bootstrap).await;
    let gateway = Gateway::start(Gateway::stack_env(&database, &topic)).await;
    assert_eq!(
        support::post(&gateway, "crm-lead", API_KEY, r#"{"lead":1}"#)
            .await
            .status(),
        202
    );
    assert_eq!(
        support::post(&gateway, "shop-orders", &shop_key, r#"{"order":2}"#)
            .await
            .status(),
        202
    );
    assert_eq!(
        support::post(&gateway, "crm-lead", &shop_key, "{}")
            .await
            .status(),
        401
    );

    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signed = reqwest::Client::new()
        .post(gateway.url("/webhooks/github-push"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 202);

    let records = support::read_topic(&bootstrap, &topic, Some(3), Duration::from_secs(5));
    let mut seen: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r.value["webhookId"].as_str().unwrap().to_owned(),
                r.value["startEvent"].as_str().unwrap().to_owned(),
                r.value["payload"].to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "crm-lead".into(),
                "lead_created".into(),
                r#"{"lead":1}"#.into()
            ),
            ("github-push".into(), "code_pushed".into(), body.into()),
            (
                "shop-orders".into(),
                "order_created".into(),
                r#"{"order":2}"#.into()
            ),
        ]
    );
    let crm = records
        .iter()
        .find(|r| r.value["webhookId"] == "crm-lead")
        .unwrap();
    assert_eq!(crm.headers["Fx-Organization-Id"], "org-local");
}

#[tokio::test]
async fn one_invalid_webhook_writes_nothing() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let broken = WEBHOOKS.replace(
        "secretRef: {name: github-secret, key: secret}",
        "secretRef: {name: gone, key: secret}",
    );
    std::fs::write(dir.path().join("webhooks.yaml"), broken).unwrap();

    let output = apply(&database, &[dir.path()]);

    let report = stdout(&output);
    assert!(!output.status.success(), "{report}");
    assert!(
        report.contains("error: Webhook default/github-push: Secret default/gone with key \"secret\" is not in the given files"),
        "{report}"
    );
    assert!(
        report.contains("nothing written: 1 of 3 webhooks are invalid"),
        "{report}"
    );
    assert_eq!(count_rows(&database).await, 0);
}

#[tokio::test]
async fn a_file_that_is_not_yaml_is_refused_with_its_name() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "kind: Webhook\n  spec: [unclosed\n").unwrap();

    let output = apply(&database, &[&path]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.yaml (document 1)"), "{stderr}");
}

#[tokio::test]
async fn every_example_webhook_is_accepted() {
    let database = TestDatabase::create().await;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kubernetes");

    let output = apply(&database, &[&examples]);

    let report = stdout(&output);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files = std::fs::read_dir(examples.join("webhooks"))
        .unwrap()
        .count();
    assert_eq!(report.matches(": created").count(), files, "{report}");
    assert_eq!(count_rows(&database).await, files as i64);
}

#[tokio::test]
async fn malformed_sealing_keys_stop_apply_with_the_variable_named_and_write_nothing() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("webhooks.yaml"), WEBHOOKS).unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_webhook-operator"))
        .env_clear()
        .env("SPRING_DATASOURCE_URL", &database.jdbc_url)
        .env(
            "SPRING_DATASOURCE_USERNAME",
            stack_var("SPRING_DATASOURCE_USERNAME"),
        )
        .env(
            "SPRING_DATASOURCE_PASSWORD",
            stack_var("SPRING_DATASOURCE_PASSWORD"),
        )
        .env("WEBHOOK_GATEWAY_SEALING_KEYS", "k1-without-a-key")
        .args(["apply", "-f"])
        .arg(dir.path())
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("WEBHOOK_GATEWAY_SEALING_KEYS"), "{stderr}");
    assert!(
        !stderr.contains("k1-without-a-key"),
        "the value was echoed: {stderr}"
    );
    let client = database.client().await;
    let tables = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'webhook_registrations'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        tables.get::<_, i64>(0),
        0,
        "nothing, not even the schema, is written"
    );
}
