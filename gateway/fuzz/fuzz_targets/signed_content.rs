//! Generic signed-content templates: accepted ones hold `{body}` once and re-assemble exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::scheme::{ContentPart, parse_signed_content};

fuzz_target!(|data: &[u8]| {
    let template = String::from_utf8_lossy(data);
    if let Ok(parts) = parse_signed_content(&template) {
        let bodies = parts
            .iter()
            .filter(|part| **part == ContentPart::Body)
            .count();
        assert_eq!(bodies, 1);
        let rebuilt: String = parts
            .iter()
            .map(|part| match part {
                ContentPart::Literal(text) => text,
                ContentPart::Timestamp => "{timestamp}",
                ContentPart::Body => "{body}",
            })
            .collect();
        assert_eq!(rebuilt, template);
    }
});
