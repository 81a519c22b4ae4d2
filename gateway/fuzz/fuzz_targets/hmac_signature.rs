//! Generic HMAC signature header: the first byte picks algorithm, encoding and prefix; whatever
//! is accepted has the algorithm's length and re-spells to the header.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::scheme::{HmacAlgorithm, SignatureEncoding};
use webhook_gateway::auth::verify::parse_hmac_signature;

const PREFIXES: [Option<&str>; 4] = [None, Some("sha256="), Some("v1="), Some("é")];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let algorithm = match selector % 3 {
        0 => HmacAlgorithm::Sha1,
        1 => HmacAlgorithm::Sha256,
        _ => HmacAlgorithm::Sha512,
    };
    let encoding = if (selector / 3) % 2 == 0 {
        SignatureEncoding::Hex
    } else {
        SignatureEncoding::Base64
    };
    let prefix = PREFIXES[usize::from(selector / 6) % PREFIXES.len()];
    let value = String::from_utf8_lossy(rest);
    if let Some(signature) = parse_hmac_signature(&value, prefix, algorithm, encoding) {
        assert_eq!(signature.len(), algorithm.output_len());
        let spelled = match encoding {
            SignatureEncoding::Hex => hex::encode(&signature),
            SignatureEncoding::Base64 => STANDARD.encode(&signature),
        };
        let spelled = format!("{}{spelled}", prefix.unwrap_or(""));
        assert!(spelled.eq_ignore_ascii_case(&value));
    }
});
