//! `stripe-signature` of Stripe: bounded, and the timestamp read is the one in the header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::verify::{MAX_SIGNATURES, parse_stripe_header, parse_unix_timestamp};

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    if let Some(header) = parse_stripe_header(&value) {
        assert!(!header.signatures.is_empty() && header.signatures.len() <= MAX_SIGNATURES);
        assert_eq!(
            parse_unix_timestamp(header.timestamp),
            Some(header.signed_at)
        );
        assert!(value.contains(&format!("t={}", header.timestamp)));
    }
});
