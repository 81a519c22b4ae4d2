//! `webhook-signature` of Standard Webhooks: bounded, and only 32-byte `v1` signatures come out.

#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::verify::{MAX_SIGNATURES, parse_standard_signatures};

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    if let Some(signatures) = parse_standard_signatures(&value) {
        assert!(!signatures.is_empty() && signatures.len() <= MAX_SIGNATURES);
        assert!(value.contains("v1,"));
    }
});
