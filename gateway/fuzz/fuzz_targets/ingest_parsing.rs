//! What the ingest path parses from a caller before anything is authenticated: the webhook id
//! of the URL, the media type, the body (JSON kept byte for byte, forms turned into objects), the
//! JSON pointer of an event id, and the caller's address behind `X-Forwarded-For`. The first
//! byte picks the parser; nothing may panic, and each answer must keep its documented promise.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use webhook_gateway::config::parse_cidr;
use webhook_gateway::ingest::payload::{BodyFormat, body_format, payload_json, value_at};
use webhook_gateway::ingest::source::{client_address, is_allowed};
use webhook_gateway::store::registration::is_valid_id;

fn check_id(id: &str) {
    let expected = id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    assert_eq!(is_valid_id(id), expected, "{id:?}");
    if expected {
        // A valid id can never leave its path segment or its Kafka key.
        assert!(!id.contains('/') && !id.contains('%') && !id.starts_with('.'));
    }
}

fn check_media_type(content_type: &str) {
    let format = body_format(content_type);
    assert_eq!(
        format,
        body_format(&content_type.to_ascii_uppercase()),
        "media types are case-insensitive: {content_type:?}"
    );
    if format.is_some() {
        let essence = content_type.split(';').next().unwrap().trim();
        assert!(
            essence.to_ascii_lowercase().starts_with("application/"),
            "{content_type:?} accepted"
        );
    }
}

/// JSON whitespace (RFC 8259), the only bytes a parsed value may leave out of the body.
fn json_trim(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

fn check_body(body: &[u8], format: BodyFormat, pointer: &str) {
    let is_text = std::str::from_utf8(body).is_ok();
    match payload_json(body, format) {
        Ok(payload) => {
            assert!(is_text, "a body that is not UTF-8 was accepted");
            let json = payload.get();
            match format {
                BodyFormat::Json => assert_eq!(
                    json,
                    json_trim(std::str::from_utf8(body).unwrap()),
                    "a JSON body must be published byte for byte"
                ),
                BodyFormat::Form => assert!(
                    json.starts_with('{') && json.ends_with('}'),
                    "a form must become an object: {json}"
                ),
            }
            let found = value_at(&payload, pointer);
            if !pointer.is_empty() && !pointer.starts_with('/') {
                assert_eq!(found, None, "{pointer:?} is not a JSON pointer");
            }
            if let Some(text) = found {
                assert!(!text.is_empty(), "an empty event id was read");
            }
        }
        Err(_) => assert!(
            format == BodyFormat::Json || !is_text,
            "a UTF-8 form body was refused"
        ),
    }
}

/// Bytes into addresses and networks: one tag byte, then just enough bytes for what it names.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn address(&mut self) -> Option<IpAddr> {
        let tag = self.take(1)?[0];
        if tag % 4 == 0 {
            let bytes: [u8; 16] = self.take(16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        } else if tag % 4 == 1 {
            // An IPv4-mapped IPv6 address, which the gateway must treat as the IPv4 one.
            let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv4Addr::from(bytes).to_ipv6_mapped()))
        } else {
            let bytes: [u8; 4] = self.take(4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(bytes)))
        }
    }
}

fn check_client_address(data: &[u8]) {
    let mut reader = Reader(data);
    let Some(peer) = reader.address() else {
        return;
    };
    let Some(&[count]) = reader.take(1) else {
        return;
    };
    let mut trusted = Vec::new();
    for _ in 0..count % 4 {
        let (Some(address), Some(&[prefix])) = (reader.address(), reader.take(1)) else {
            return;
        };
        let cidr = format!("{}/{}", address.to_canonical(), prefix % 129);
        trusted.extend(parse_cidr(&cidr));
    }
    // Hops: an address, written as text, or a garbage hop; spacing varies.
    let mut hops: Vec<String> = Vec::new();
    while let Some(&[kind]) = reader.take(1) {
        let hop = match kind % 8 {
            0 => match reader.take(1) {
                Some(&[c]) => char::from(c).to_string(),
                _ => break,
            },
            1 => " ".to_owned(),
            _ => match reader.address() {
                Some(address) => address.to_string(),
                None => break,
            },
        };
        let padding = if kind & 0x80 != 0 { " " } else { "" };
        hops.push(format!("{padding}{hop}{padding}"));
    }
    let header = hops.join(",");
    let forwarded = (!hops.is_empty()).then_some(header.as_str());

    let is_trusted = |address: &IpAddr| !trusted.is_empty() && is_allowed(*address, &trusted);
    let client = client_address(peer, forwarded, &trusted);
    let peer = peer.to_canonical();
    assert_eq!(client, client.to_canonical(), "a mapped address came out");
    if !is_trusted(&peer) {
        assert_eq!(client, peer, "an untrusted peer's header was believed");
        return;
    }
    // Read from the right: the first hop that is malformed or untrusted ends the walk. An
    // untrusted hop is the client; a malformed one leaves the last address known to be real
    // (the peer, if it is the very first hop); a header of trusted proxies only ends at its
    // leftmost hop.
    let parsed: Vec<Option<IpAddr>> = header
        .rsplit(',')
        .map(|hop| hop.trim().parse::<IpAddr>().ok().map(|a| a.to_canonical()))
        .collect();
    let stop = parsed
        .iter()
        .position(|hop| hop.is_none_or(|address| !is_trusted(&address)));
    let expected = match stop {
        Some(index) => match parsed[index] {
            Some(untrusted) => untrusted,
            None if index == 0 => peer,
            None => parsed[index - 1].unwrap(),
        },
        None => parsed.last().copied().flatten().unwrap(),
    };
    assert_eq!(client, expected, "peer {peer}, X-Forwarded-For {header:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 5 {
        0 => check_id(&text),
        1 => check_media_type(&text),
        2 | 3 => {
            // The pointer comes first, up to the first newline; the body is the rest, raw.
            let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let pointer = String::from_utf8_lossy(&rest[..split]);
            let body = rest.get(split + 1..).unwrap_or_default();
            let format = if selector % 5 == 2 {
                BodyFormat::Json
            } else {
                BodyFormat::Form
            };
            check_body(body, format, &pointer);
        }
        _ => check_client_address(rest),
    }
});
