//! Diesel table definitions; they mirror the embedded migrations in `gateway/migrations/`.

diesel::table! {
    webhook_registrations (id) {
        id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        workspace_id -> Text,
        organization_id -> Nullable<Text>,
        active -> Bool,
        start_event -> Nullable<Text>,
        topic -> Nullable<Text>,
        auth -> Jsonb,
        max_body_bytes -> Nullable<Int4>,
        forwarded_headers -> Array<Text>,
        allowed_cidrs -> Array<Text>,
        rate_per_second -> Nullable<Int4>,
        rate_burst -> Nullable<Int4>,
        idempotency_header -> Nullable<Text>,
        idempotency_json_pointer -> Nullable<Text>,
        dedupe_ttl_seconds -> Nullable<Int4>,
        response_status -> Int2,
        response_body -> Nullable<Text>,
        managed_by -> Text,
        owner -> Nullable<Text>,
        revision -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_credentials (id) {
        id -> Int8,
        webhook_id -> Text,
        kind -> Text,
        secret_hash -> Nullable<Bytea>,
        sealed -> Nullable<Bytea>,
        key_id -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(webhook_credentials -> webhook_registrations (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_registrations, webhook_credentials);
