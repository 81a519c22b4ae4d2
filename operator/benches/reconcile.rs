//! 1,000 `Webhook` resources reconciled against the fake API server and the real PostgreSQL of
//! the local stack (`source /tmp/webhook-gateway-stack/env` first): the first pass that
//! registers them, the steady-state pass that must write nothing, and, measured in the same run
//! as a floor, the reads a steady pass cannot avoid (the API gets and the registration query of
//! each webhook) issued directly. Prints wall times, writes and the process's memory.
//!
//! `cargo bench -p webhook-operator --bench reconcile` (`BENCH_WEBHOOKS`, `BENCH_CONCURRENCY`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::Api;
use serde_json::json;
use webhook_crds::{Conditions, Webhook, WebhookGateway};
use webhook_operator::context::database_config;
use webhook_operator::webhook_controller;

#[allow(dead_code)]
#[path = "../tests/operator/fake_api.rs"]
mod fake_api;
#[allow(dead_code)]
#[path = "../tests/operator/fixture.rs"]
mod fixture;
#[allow(dead_code)]
#[path = "../../gateway/tests/integration/support.rs"]
mod support;

use fixture::{Fixture, NAMESPACE, secret, webhook};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident and peak resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The name and spec of webhook `index`: most generate their API key, some name a Secret,
/// some are signed GitHub webhooks.
fn resource(index: usize) -> (String, serde_json::Value) {
    let name = format!("hook-{index:04}");
    let spec = match index % 10 {
        0 => {
            json!({"auth": {"type": "github", "secretRef": {"name": format!("{name}-secret"), "key": "secret"}}})
        }
        1 | 2 => {
            json!({"auth": {"secretRef": {"name": format!("{name}-secret"), "key": "secret"}}})
        }
        _ => json!({"limits": {"ratePerSecond": 50, "burst": 100}}),
    };
    (name, spec)
}

async fn pass(fixture: &Fixture, names: &[String], concurrency: usize) -> (Duration, usize, usize) {
    fixture.api.clear_requests();
    let started = Instant::now();
    let webhooks: Vec<Webhook> = names.iter().map(|n| fixture.webhook(n).unwrap()).collect();
    let results: Vec<bool> = futures::stream::iter(webhooks)
        .map(|webhook| {
            let context = fixture.context.clone();
            async move {
                webhook_controller::reconcile(Arc::new(webhook), context)
                    .await
                    .is_ok()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failed = results.iter().filter(|ok| !**ok).count();
    (elapsed, fixture.api.writes().len(), failed)
}

/// The reads a steady pass cannot do without, issued directly: the gateway, the database
/// password and sealing Secrets, the webhook's credential Secret, and its registration row.
async fn floor(fixture: &Fixture, names: &[String], concurrency: usize) -> Duration {
    let config = database_config(
        &fixture.database.jdbc_url,
        Some(&support::stack_var("SPRING_DATASOURCE_USERNAME")),
        &support::stack_var("SPRING_DATASOURCE_PASSWORD"),
    )
    .unwrap();
    let database = webhook_gateway::store::Database::new(&config).unwrap();
    let client = fixture.api.client();
    let started = Instant::now();
    futures::stream::iter(names.iter().cloned())
        .map(|name| {
            let (client, database) = (client.clone(), database.clone());
            async move {
                let gateways: Api<WebhookGateway> = Api::namespaced(client.clone(), NAMESPACE);
                let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                    Api::namespaced(client, NAMESPACE);
                gateways.get(fixture::GATEWAY).await.unwrap();
                secrets.get("gateway-db").await.unwrap();
                secrets.get("gateway-sealing").await.unwrap();
                let _ = secrets
                    .get_opt(&format!("{name}-webhook-credentials"))
                    .await
                    .unwrap();
                database.managed(&name).await.unwrap();
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// The sum of every registration's revision, which each write of a row raises.
async fn revisions(fixture: &Fixture) -> i64 {
    let client = fixture.database.client().await;
    let row = client
        .query_one(
            "SELECT COALESCE(sum(revision), 0)::bigint FROM webhook_registrations",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::main]
async fn main() {
    let count = setting("BENCH_WEBHOOKS", 1000);
    let concurrency = setting("BENCH_CONCURRENCY", 16);
    let fixture = Fixture::new().await;
    // Nothing watches here: the fake keeps only the objects, so the memory is the operator's
    // and the objects'.
    fixture.api.forget_history();

    let mut names = Vec::with_capacity(count);
    for index in 0..count {
        let (name, spec) = resource(index);
        if spec["auth"]["secretRef"].is_object() {
            let value = if index % 10 == 0 {
                format!("github-secret-{index}")
            } else {
                format!("whk_bench-key-{index:08}")
            };
            fixture
                .api
                .insert(&secret(&format!("{name}-secret"), "secret", &value));
        }
        fixture.api.insert(&webhook(&name, spec));
        names.push(name);
    }
    let (rss_before, _) = memory();
    println!(
        "webhooks: {count}, concurrency {concurrency}, PostgreSQL {}",
        fixture.database.jdbc_url
    );

    let (first, first_writes, first_failed) = pass(&fixture, &names, concurrency).await;
    let ready = names
        .iter()
        .filter(|n| {
            fixture
                .webhook(n)
                .and_then(|w| w.status)
                .is_some_and(|s| s.conditions.is_ready())
        })
        .count();
    println!(
        "first pass:   {:>7.2} s  {:>6.0} webhooks/s  {first_writes} API writes  {first_failed} failed  {ready} Ready",
        first.as_secs_f64(),
        count as f64 / first.as_secs_f64()
    );

    let rows_before = revisions(&fixture).await;
    let (steady, steady_writes, steady_failed) = pass(&fixture, &names, concurrency).await;
    let row_writes = revisions(&fixture).await - rows_before;
    println!(
        "steady pass:  {:>7.2} s  {:>6.0} webhooks/s  {steady_writes} API writes  {row_writes} row writes  {steady_failed} failed",
        steady.as_secs_f64(),
        count as f64 / steady.as_secs_f64()
    );
    let floor = floor(&fixture, &names, concurrency).await;
    println!(
        "floor (reads only, same run): {:>7.2} s  steady pass = {:.2} x floor",
        floor.as_secs_f64(),
        steady.as_secs_f64() / floor.as_secs_f64()
    );
    let (rss, peak) = memory();
    println!(
        "RSS (operator and the fake cluster in one process): {rss_before:.1} MiB loaded, {rss:.1} MiB at the end, peak {peak:.1} MiB"
    );
    println!(
        "target: first pass <= 10 s: {}; zero writes on the steady pass: {}",
        if first.as_secs_f64() <= 10.0 {
            "met"
        } else {
            "NOT met"
        },
        if steady_writes == 0 && row_writes == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
    if steady_writes != 0 || row_writes != 0 || first_failed != 0 || ready != count {
        std::process::exit(1);
    }
}
