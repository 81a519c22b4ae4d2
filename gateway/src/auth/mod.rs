//! Caller authentication, one verifier per scheme.

pub mod api_key;
pub mod credentials;
pub mod scheme;
pub mod verify;
