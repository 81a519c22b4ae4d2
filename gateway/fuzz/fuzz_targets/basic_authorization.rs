//! `authorization` of HTTP Basic: the username never holds a colon, and the credentials
//! re-encode to the header's base64.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::verify::parse_basic_authorization;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    if let Some(credentials) = parse_basic_authorization(&value) {
        assert!(!credentials.username.contains(&b':'));
        let joined = [credentials.username.as_slice(), b":", &credentials.password].concat();
        assert!(value.ends_with(&STANDARD.encode(joined)));
    }
});
