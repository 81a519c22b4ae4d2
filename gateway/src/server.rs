//! Start-up, serving and graceful shutdown of the gateway.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};

use crate::api::Api;
use crate::config::Config;
use crate::ingest::dedupe::Deduplicator;
use crate::ingest::rate_limit::RateLimiterSet;
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::state::{Gateway, Lifecycle};
use crate::store::deliveries::DeliveryLog;
use crate::store::redis::Redis;
use crate::store::{Database, RegistrationCache, invalidation, migrations};
use crate::{actuator, api, ingest};

/// Runs the gateway until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new());

    let applied = migrations::run(&config.database).await?;
    tracing::info!(applied, "database migrations applied: {applied}");

    let database = Database::new(&config.database)?;
    let database_name = format!(
        "{}:{}/{}",
        config.database.host, config.database.port, config.database.database
    );
    let redis = Arc::new(Redis::new(&config.redis, &database_name)?);
    let registrations = Arc::new(RegistrationCache::new(
        database.clone(),
        redis.clone(),
        config.redis.ttl,
        &config.cache,
        metrics.clone(),
    ));
    invalidation::spawn(&config.database, registrations.clone());
    let publisher = Arc::new(Publisher::new(
        &config.kafka,
        config.server.max_body_bytes,
        metrics.clone(),
    )?);
    let lifecycle = Arc::new(Lifecycle::default());
    let api = Api::new(&config.security).map_err(|e| anyhow::anyhow!("management API: {e}"))?;
    match &api {
        Some(_) => tracing::info!(
            spicedb = %format!("{}:{}", config.security.spicedb_host, config.security.spicedb_port),
            "management API enabled; tokens from {}",
            config.security.realm_url.as_deref().unwrap_or_default()
        ),
        None => tracing::warn!(
            "management API disabled: SECURITY_OAUTH2_BASE_SERVER_URL is not set, /api answers 503"
        ),
    }

    let gateway = web::Data::new(Gateway {
        config: config.clone(),
        database,
        redis: redis.clone(),
        registrations,
        rate_limits: RateLimiterSet::new(redis.clone()),
        deliveries: DeliveryLog::new(redis.clone()),
        api,
        deduplicator: Deduplicator::new(
            redis,
            config.kafka.publish_timeout * 2 + Duration::from_secs(5),
        ),
        publisher: publisher.clone(),
        metrics,
        lifecycle: lifecycle.clone(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(ingest::held_body::hold)
            .app_data(gateway.clone())
            .configure(ingest::routes)
            .configure(actuator::routes)
            .configure(api::routes)
            .default_service(web::to(ingest::no_such_endpoint))
    })
    .workers(config.server.workers)
    .max_connections(config.protection.max_connections)
    .client_request_timeout(config.protection.header_timeout)
    .client_disconnect_timeout(Duration::from_secs(1))
    .disable_signals()
    .shutdown_timeout(config.server.shutdown_timeout.as_secs().max(1))
    .bind(config.server.bind)?
    .run();

    lifecycle.mark_started();
    tracing::info!(
        bind = %config.server.bind,
        topic = %config.kafka.start_topic,
        kafka = %config.kafka.bootstrap_servers,
        postgres = %format!("{}:{}/{}", config.database.host, config.database.port, config.database.database),
        redis = %format!("{}:{}", config.redis.host, config.redis.port),
        max_body_bytes = config.server.max_body_bytes,
        version = env!("CARGO_PKG_VERSION"),
        "webhook gateway listening on {}",
        config.server.bind
    );

    let handle = server.handle();
    let shutdown_delay = config.server.shutdown_delay;
    let signals = tokio::spawn(async move {
        let signal = wait_for_signal().await;
        lifecycle.mark_stopping();
        tracing::info!(
            "{signal} received: readiness is now failing; closing the listener in {} ms",
            shutdown_delay.as_millis()
        );
        tokio::time::sleep(shutdown_delay).await;
        handle.stop(true).await;
    });

    server.await?;
    signals.abort();
    let flushed = publisher.flush(config.server.shutdown_timeout).await;
    match flushed {
        Ok(()) => tracing::info!("in-flight requests answered and producer flushed; stopped"),
        Err(e) => tracing::warn!("stopped, but the producer could not flush every record: {e}"),
    }
    Ok(())
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}
