//! Whole verifications: the first byte picks a scheme, newline-separated chunks become its
//! headers in order, and what remains is the body. Nothing may panic, and nothing may pass
//! without a signature made with one of the secrets.

#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::scheme::{AuthScheme, HmacAlgorithm, SignatureEncoding};
use webhook_gateway::auth::verify::{CandidateSecret, verify};

const HEADERS: [&str; 8] = [
    "webhook-signature",
    "webhook-timestamp",
    "webhook-id",
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
];

fn schemes() -> [AuthScheme; 8] {
    [
        AuthScheme::StandardWebhooks {
            tolerance_seconds: None,
        },
        AuthScheme::Github,
        AuthScheme::Stripe {
            tolerance_seconds: Some(86_400),
        },
        AuthScheme::Slack {
            tolerance_seconds: None,
        },
        AuthScheme::Shopify,
        AuthScheme::Hmac {
            header: "webhook-signature".to_owned(),
            algorithm: HmacAlgorithm::Sha1,
            encoding: SignatureEncoding::Base64,
            prefix: Some("v1,".to_owned()),
            timestamp_header: Some("webhook-timestamp".to_owned()),
            signed_content: Some("{timestamp}:{body}".to_owned()),
            tolerance_seconds: Some(1),
        },
        AuthScheme::Gitlab,
        AuthScheme::Basic {
            username: "sender".to_owned(),
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let schemes = schemes();
    let scheme = &schemes[usize::from(selector) % schemes.len()];
    let text = String::from_utf8_lossy(rest);
    let mut chunks = text.splitn(HEADERS.len() + 1, '\n');
    let values: Vec<&str> = chunks.by_ref().take(HEADERS.len()).collect();
    let body = chunks.next().unwrap_or("").as_bytes();
    let lookup = |name: &str| {
        let position = HEADERS.iter().position(|header| *header == name);
        position.and_then(|index| values.get(index).copied())
    };
    // Also serve the generic names, so Basic and GitLab see fuzzed values.
    let headers = |name: &str| match name {
        "authorization" | "x-gitlab-token" => values.first().copied(),
        _ => lookup(name),
    };
    let now = DateTime::from_timestamp(1_800_000_000, 0).expect("in range");
    let expired = DateTime::from_timestamp(1_700_000_000, 0);
    let secrets = [
        CandidateSecret {
            material: b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            expires_at: None,
        },
        CandidateSecret {
            material: b"fuzzing secret",
            expires_at: expired,
        },
        CandidateSecret {
            material: &[7; 32],
            expires_at: None,
        },
    ];
    let outcome = verify(scheme, &headers, body, &secrets, now);
    if let Ok(()) = outcome {
        panic!("forged request accepted under {scheme:?}");
    }
    let _ = outcome.map_err(|error| error.kind());
});
