//! Micro-benchmark of the signature verifiers: one valid request over a 1 KiB body per scheme,
//! next to one plain SHA-256 of the same body measured in the same run.
//!
//! Run with `cargo run --release -p webhook-gateway --example verify_bench`. Figures are the
//! median of five rounds after a warm-up, so a busy neighbour on the machine skews them less.

use std::hint::black_box;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use webhook_gateway::auth::api_key;
use webhook_gateway::auth::scheme::{AuthScheme, HmacAlgorithm, SignatureEncoding};
use webhook_gateway::auth::verify::{CandidateSecret, verify};
use webhook_gateway::store::StoredKey;

const WARM_UP: u32 = 20_000;
const ROUNDS: u32 = 5;
const PER_ROUND: u32 = 40_000;
const BODY_LEN: usize = 1024;
const NOW: i64 = 1_800_000_000;

/// Median nanoseconds per call of `work` over [`ROUNDS`] rounds of [`PER_ROUND`] calls.
fn measure(mut work: impl FnMut()) -> f64 {
    for _ in 0..WARM_UP {
        work();
    }
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                work();
            }
            start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A body of exactly [`BODY_LEN`] bytes that looks like a webhook payload.
fn body() -> Vec<u8> {
    let mut body = br#"{"type":"invoice.paid","data":{"note":""#.to_vec();
    while body.len() < BODY_LEN - 3 {
        body.push(b'a' + (body.len() % 26) as u8);
    }
    body.extend_from_slice(br#""}}"#);
    body
}

/// One benchmarked scheme: its settings, the request headers and the stored secrets.
struct Case {
    label: &'static str,
    scheme: AuthScheme,
    headers: Vec<(&'static str, String)>,
    secrets: Vec<Vec<u8>>,
}

fn cases(body: &[u8]) -> Vec<Case> {
    let ts = NOW.to_string();
    let standard_key = STANDARD
        .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .expect("base64");
    let standard_content: &[&[u8]] = &[b"msg_1", b".", ts.as_bytes(), b".", body];
    let standard_signature = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&standard_key, standard_content))
    );
    let standard_headers = vec![
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-timestamp", ts.clone()),
        ("webhook-signature", standard_signature),
    ];
    let whsec = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec();
    let plain_secret = b"a webhook signing secret".to_vec();
    let password = Sha256::digest(b"a password").to_vec();
    let stripe = hmac_sha256(&plain_secret, &[ts.as_bytes(), b".", body]);
    let slack = hmac_sha256(&plain_secret, &[b"v0:", ts.as_bytes(), b":", body]);
    vec![
        Case {
            label: "standard-webhooks",
            scheme: AuthScheme::StandardWebhooks {
                tolerance_seconds: None,
            },
            headers: standard_headers.clone(),
            secrets: vec![whsec.clone()],
        },
        Case {
            label: "standard-webhooks, 2 secrets",
            scheme: AuthScheme::StandardWebhooks {
                tolerance_seconds: None,
            },
            headers: standard_headers,
            secrets: vec![
                b"whsec_c2Vjb25kIHN0YW5kYXJkIHdlYmhvb2tzIGtleQ==".to_vec(),
                whsec,
            ],
        },
        Case {
            label: "github",
            scheme: AuthScheme::Github,
            headers: vec![(
                "x-hub-signature-256",
                format!(
                    "sha256={}",
                    hex::encode(hmac_sha256(&plain_secret, &[body]))
                ),
            )],
            secrets: vec![plain_secret.clone()],
        },
        Case {
            label: "gitlab",
            scheme: AuthScheme::Gitlab,
            headers: vec![("x-gitlab-token", "a shared gitlab token".to_owned())],
            secrets: vec![Sha256::digest(b"a shared gitlab token").to_vec()],
        },
        Case {
            label: "stripe",
            scheme: AuthScheme::Stripe {
                tolerance_seconds: None,
            },
            headers: vec![(
                "stripe-signature",
                format!("t={ts},v1={}", hex::encode(&stripe)),
            )],
            secrets: vec![plain_secret.clone()],
        },
        Case {
            label: "slack",
            scheme: AuthScheme::Slack {
                tolerance_seconds: None,
            },
            headers: vec![
                ("x-slack-request-timestamp", ts.clone()),
                ("x-slack-signature", format!("v0={}", hex::encode(slack))),
            ],
            secrets: vec![plain_secret.clone()],
        },
        Case {
            label: "shopify",
            scheme: AuthScheme::Shopify,
            headers: vec![(
                "x-shopify-hmac-sha256",
                STANDARD.encode(hmac_sha256(&plain_secret, &[body])),
            )],
            secrets: vec![plain_secret.clone()],
        },
        Case {
            label: "hmac (sha256, hex, {timestamp}.{body})",
            scheme: AuthScheme::Hmac {
                header: "x-signature".to_owned(),
                algorithm: HmacAlgorithm::Sha256,
                encoding: SignatureEncoding::Hex,
                prefix: Some("sha256=".to_owned()),
                timestamp_header: Some("x-signature-timestamp".to_owned()),
                signed_content: Some("{timestamp}.{body}".to_owned()),
                tolerance_seconds: None,
            },
            headers: vec![
                ("x-signature", format!("sha256={}", hex::encode(&stripe))),
                ("x-signature-timestamp", ts.clone()),
            ],
            secrets: vec![plain_secret],
        },
        Case {
            label: "basic",
            scheme: AuthScheme::Basic {
                username: "sender".to_owned(),
            },
            headers: vec![(
                "authorization",
                format!("Basic {}", STANDARD.encode("sender:a password")),
            )],
            secrets: vec![password],
        },
    ]
}

fn main() {
    let body = body();
    assert_eq!(body.len(), BODY_LEN);
    let now = DateTime::<Utc>::from_timestamp(NOW, 0).expect("in range");

    let baseline = measure(|| {
        black_box(Sha256::digest(black_box(body.as_slice())));
    });

    println!("verification of one valid request over a {BODY_LEN}-byte body");
    println!("({ROUNDS} rounds of {PER_ROUND} after {WARM_UP} warm-up calls; median per call)\n");
    println!("{:<40} {:>12} {:>14}", "scheme", "ns/verify", "x SHA-256");
    println!(
        "{:<40} {:>12.0} {:>14.2}",
        "baseline: one SHA-256 of the body", baseline, 1.0
    );

    for case in cases(&body) {
        let secrets: Vec<CandidateSecret<'_>> = case
            .secrets
            .iter()
            .map(|material| CandidateSecret {
                material,
                expires_at: None,
            })
            .collect();
        let headers = |name: &str| {
            case.headers
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.as_str())
        };
        verify(&case.scheme, &headers, &body, &secrets, now).expect("the request is valid");
        let nanos = measure(|| {
            let outcome = verify(
                black_box(&case.scheme),
                &headers,
                black_box(body.as_slice()),
                black_box(&secrets),
                now,
            );
            black_box(outcome).expect("the request is valid");
        });
        println!(
            "{:<40} {:>12.0} {:>14.2}",
            case.label,
            nanos,
            nanos / baseline
        );
    }

    let key = api_key::generate();
    let keys = [StoredKey {
        hash: api_key::hash(&key),
        expires_at: None,
    }];
    let nanos = measure(|| {
        assert!(black_box(api_key::verify(black_box(&key), &keys, now)));
    });
    println!(
        "{:<40} {:>12.0} {:>14.2}",
        "api-key (existing, for comparison)",
        nanos,
        nanos / baseline
    );
}
