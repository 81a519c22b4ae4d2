//! `x-slack-signature` of Slack: whatever is accepted spells the returned bytes exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_gateway::auth::verify::parse_slack_signature;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    if let Some(signature) = parse_slack_signature(&value) {
        let spelled = format!("v0={}", hex::encode(signature));
        assert!(spelled.eq_ignore_ascii_case(&value));
    }
});
