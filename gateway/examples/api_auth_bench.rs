//! Added latency of authorizing an `/api` read with warm caches: token validation (both modes)
//! plus the workspace permission check, as the handler pays it, against the real OIDC provider
//! and SpiceDB of the local stack (source its env file first).
//!
//! Run with `cargo run --release -p webhook-gateway --example api_auth_bench`.

use std::time::Instant;

use webhook_gateway::api::authz::{Access, Authorizer};
use webhook_gateway::api::token::TokenValidator;
use webhook_gateway::config::{Config, TokenMode};

const ROUNDS: usize = 20_000;

async fn alice_token(issuer: &str) -> String {
    let clients = std::env::var("WHGW_OIDC_TEST_CLIENTS").expect("source the stack's env file");
    let secret = clients
        .split(',')
        .find_map(|c| c.strip_prefix("alice:"))
        .expect("alice")
        .to_owned();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .basic_auth("alice", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token answer");
    answer["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut config = Config::from_lookup(&lookup).expect("configuration");
    let issuer = config
        .security
        .realm_url
        .clone()
        .expect("SECURITY_OAUTH2_BASE_SERVER_URL");
    let token = alice_token(&issuer).await;
    println!("authorized /api read, warm caches, {ROUNDS} rounds (microseconds)");
    println!("{:<34} {:>8} {:>8} {:>8}", "mode", "p50", "p99", "max");
    for (name, mode) in [
        ("introspection (cached)", TokenMode::Introspection),
        ("local keys", TokenMode::LocalKeys),
    ] {
        config.security.mode = mode;
        let validator = TokenValidator::new(&config.security).expect("validator");
        let authorizer = Authorizer::new(&config.security).expect("authorizer");
        let principal = validator.validate(&token).await.expect("valid token");
        assert!(
            authorizer
                .allows(&principal, "ws-alpha", Access::View)
                .await
                .expect("SpiceDB")
        );
        let mut samples = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            let principal = validator.validate(&token).await.expect("valid token");
            let allowed = authorizer
                .allows(&principal, "ws-alpha", Access::View)
                .await
                .expect("SpiceDB");
            samples.push(started.elapsed().as_secs_f64() * 1e6);
            assert!(allowed);
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "{name:<34} {:>8.1} {:>8.1} {:>8.1}",
            percentile(&samples, 0.50),
            percentile(&samples, 0.99),
            samples[samples.len() - 1]
        );
    }
}
