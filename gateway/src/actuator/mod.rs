//! `/actuator/**`: health (with liveness and readiness groups), Prometheus metrics, build info.

use std::future::Future;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::state::Gateway;

/// Longest a single dependency check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Registers the actuator routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/actuator/health", web::get().to(health))
        .route("/actuator/health/liveness", web::get().to(liveness))
        .route("/actuator/health/readiness", web::get().to(readiness))
        .route("/actuator/metrics", web::get().to(metrics))
        .route("/actuator/prometheus", web::get().to(metrics))
        .route("/actuator/info", web::get().to(info));
}

async fn component<F>(check: F) -> Value
where
    F: Future<Output = Result<(), String>>,
{
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => json!({ "status": "UP" }),
        Ok(Err(error)) => json!({ "status": "DOWN", "details": { "error": error } }),
        Err(_) => json!({ "status": "DOWN", "details": { "error": "no answer within 3 s" } }),
    }
}

fn is_up(component: &Value) -> bool {
    component["status"] == "UP"
}

/// Overall health. PostgreSQL and Kafka are required; Redis is a cache, so its loss shows in
/// its component but leaves the gateway UP.
async fn health(gateway: web::Data<Gateway>) -> HttpResponse {
    let (postgres, redis, kafka) = tokio::join!(
        component(async { gateway.database.ping().await.map_err(|e| e.to_string()) }),
        component(gateway.redis.ping()),
        component(gateway.publisher.check()),
    );
    let up = is_up(&postgres) && is_up(&kafka) && gateway.lifecycle.is_ready();
    let mut body = json!({
        "status": if up { "UP" } else { "DOWN" },
        "components": {
            "postgres": postgres,
            "redis": redis,
            "kafka": kafka,
            "readinessState": readiness_state(&gateway),
        },
    });
    // SpiceDB only serves /api; webhooks keep flowing without it, so it does not lower the
    // overall status.
    if let Some(api) = &gateway.api {
        body["components"]["spicedb"] =
            component(async { api.authorizer.ping().await.map_err(|e| e.to_string()) }).await;
    }
    respond(up, body)
}

fn readiness_state(gateway: &Gateway) -> Value {
    json!({ "status": if gateway.lifecycle.is_ready() { "UP" } else { "OUT_OF_SERVICE" } })
}

/// The process is alive as long as it answers.
async fn liveness() -> HttpResponse {
    respond(true, json!({ "status": "UP" }))
}

/// Ready once started and until shutdown begins. Dependencies are not part of readiness: taking
/// every replica out of the load balancer when a shared dependency fails helps no caller.
async fn readiness(gateway: web::Data<Gateway>) -> HttpResponse {
    let ready = gateway.lifecycle.is_ready();
    respond(
        ready,
        json!({ "status": if ready { "UP" } else { "OUT_OF_SERVICE" } }),
    )
}

fn respond(up: bool, body: Value) -> HttpResponse {
    let mut response = if up {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .content_type("application/vnd.spring-boot.actuator.v3+json")
        .json(body)
}

async fn metrics(gateway: web::Data<Gateway>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(gateway.metrics.render())
}

async fn info() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "build": {
            "name": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
        },
        "git": { "commit": { "id": env!("WEBHOOK_GATEWAY_GIT_COMMIT") } },
    }))
}
