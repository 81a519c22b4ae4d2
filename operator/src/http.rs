//! The health and metrics listener: `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::metrics::Metrics;

/// Binds `address` and returns the server, to be spawned by the caller.
pub fn serve(
    address: &str,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        let ready = ready.clone();
        App::new()
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
            .route(
                "/readyz",
                web::get().to(move || {
                    let ready = ready.load(Ordering::Relaxed);
                    async move {
                        if ready {
                            HttpResponse::Ok().body("ready")
                        } else {
                            HttpResponse::ServiceUnavailable().body("starting")
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                web::get().to(move || {
                    let body = metrics.render();
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/plain; version=0.0.4")
                            .body(body)
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(address)?
    .run();
    Ok(server)
}
