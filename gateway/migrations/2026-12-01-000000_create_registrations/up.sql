-- Webhook registrations: one row per webhook URL. Written by the operator (Kubernetes-managed
-- webhooks), the management API and the command line; read by every gateway replica.
CREATE TABLE webhook_registrations (
    id                TEXT PRIMARY KEY
                      CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    name              TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 253),
    description       TEXT,
    workspace_id      TEXT NOT NULL CHECK (char_length(workspace_id) BETWEEN 1 AND 253),
    organization_id   TEXT,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    start_event       TEXT,
    topic             TEXT CHECK (topic ~ '^[A-Za-z0-9._-]{1,249}$'),
    -- How callers authenticate: {"type": "api-key"}, {"type": "github"}, {"type": "hmac", ...}.
    auth              JSONB NOT NULL DEFAULT '{"type": "api-key"}'
                      CHECK (jsonb_typeof(auth) = 'object' AND auth ? 'type'),
    max_body_bytes    INTEGER CHECK (max_body_bytes > 0),
    forwarded_headers TEXT[] NOT NULL DEFAULT '{}',
    -- Source addresses allowed to call (CIDR notation); empty allows every address.
    allowed_cidrs     TEXT[] NOT NULL DEFAULT '{}',
    rate_per_second   INTEGER CHECK (rate_per_second > 0),
    rate_burst        INTEGER CHECK (rate_burst > 0),
    -- Where a caller's event id is read for duplicate suppression, besides the scheme's own header.
    idempotency_header       TEXT,
    idempotency_json_pointer TEXT CHECK (idempotency_json_pointer ~ '^(/.*)?$'),
    dedupe_ttl_seconds       INTEGER CHECK (dedupe_ttl_seconds > 0),
    response_status   SMALLINT NOT NULL DEFAULT 202 CHECK (response_status IN (200, 202, 204)),
    response_body     TEXT,
    managed_by        TEXT NOT NULL DEFAULT 'cli' CHECK (managed_by IN ('cli', 'api', 'kubernetes')),
    revision          BIGINT NOT NULL DEFAULT 1,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhook_registrations_workspace ON webhook_registrations (workspace_id);

-- Credentials of a webhook; several may be valid at once while a rotated one runs out its grace
-- period. API keys and shared tokens are kept only as SHA-256 hashes; signing secrets, which the
-- gateway needs in clear to compute signatures, are sealed with AES-256-GCM under a key named by
-- key_id (the webhook id is bound in as associated data).
CREATE TABLE webhook_credentials (
    id          BIGSERIAL PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhook_registrations (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('api_key', 'token', 'signing_secret')),
    secret_hash BYTEA CHECK (octet_length(secret_hash) = 32),
    sealed      BYTEA,
    key_id      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ,
    CHECK (
        (kind IN ('api_key', 'token') AND secret_hash IS NOT NULL AND sealed IS NULL)
        OR (kind = 'signing_secret' AND sealed IS NOT NULL AND key_id IS NOT NULL AND secret_hash IS NULL)
    )
);

CREATE INDEX webhook_credentials_webhook ON webhook_credentials (webhook_id);

-- Every change bumps the revision and tells the gateways which webhook changed, whoever wrote it.
CREATE FUNCTION webhook_registration_touch() RETURNS trigger AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER webhook_registrations_touch
    BEFORE UPDATE ON webhook_registrations
    FOR EACH ROW EXECUTE FUNCTION webhook_registration_touch();

CREATE FUNCTION webhook_registration_notify() RETURNS trigger AS $$
DECLARE
    changed TEXT;
BEGIN
    IF TG_TABLE_NAME = 'webhook_credentials' THEN
        changed := COALESCE(NEW.webhook_id, OLD.webhook_id);
    ELSE
        changed := COALESCE(NEW.id, OLD.id);
    END IF;
    PERFORM pg_notify('webhook_registration_changed', changed);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER webhook_registrations_notify
    AFTER INSERT OR UPDATE OR DELETE ON webhook_registrations
    FOR EACH ROW EXECUTE FUNCTION webhook_registration_notify();

CREATE TRIGGER webhook_credentials_notify
    AFTER INSERT OR UPDATE OR DELETE ON webhook_credentials
    FOR EACH ROW EXECUTE FUNCTION webhook_registration_notify();
