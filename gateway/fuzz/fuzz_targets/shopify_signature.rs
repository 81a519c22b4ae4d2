//! `x-shopify-hmac-sha256` of Shopify: only canonical base64 of 32 bytes is accepted.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::verify::parse_shopify_signature;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    if let Some(signature) = parse_shopify_signature(&value) {
        assert_eq!(STANDARD.encode(signature), value);
    }
});
