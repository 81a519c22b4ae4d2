//! Integration tests against the real local stack (PostgreSQL, Redis, Tansu) started by
//! `e2e/stack/up.sh`; each test uses its own database and topic.

mod api;
mod faults;
mod hostile;
mod ingest;
mod lifecycle;
mod logs;
mod protection;
mod registrations;
mod support;
