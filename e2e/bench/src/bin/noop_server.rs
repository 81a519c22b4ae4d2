//! The framework ceiling: an actix-web server with the gateway's worker count whose
//! `POST /webhooks/{id}` only reads the body and answers 202, as the gateway does on success.

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;

#[derive(Parser)]
#[command(about = "No-op webhook endpoint for load benchmarks")]
struct Args {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long)]
    port: u16,
    /// HTTP worker threads; defaults like the gateway to the number of cores.
    #[arg(long, env = "WEBHOOK_GATEWAY_WORKERS")]
    workers: Option<usize>,
}

async fn accept(_id: web::Path<String>, _body: web::Bytes) -> HttpResponse {
    // Same answer shape and size as the gateway's, so only the work behind it differs.
    HttpResponse::Accepted()
        .json(serde_json::json!({ "eventId": uuid::Uuid::now_v7().to_string() }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    HttpServer::new(|| App::new().route("/webhooks/{id}", web::post().to(accept)))
        .workers(workers)
        .bind(("127.0.0.1", args.port))?
        .run()
        .await
}
