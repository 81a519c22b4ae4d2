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
    auth_type         TEXT NOT NULL DEFAULT 'api_key' CHECK (auth_type IN ('api_key')),
    max_body_bytes    INTEGER CHECK (max_body_bytes > 0),
    forwarded_headers TEXT[] NOT NULL DEFAULT '{}',
    managed_by        TEXT NOT NULL DEFAULT 'cli' CHECK (managed_by IN ('cli', 'api', 'kubernetes')),
    revision          BIGINT NOT NULL DEFAULT 1,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhook_registrations_workspace ON webhook_registrations (workspace_id);

-- Credentials of a webhook. API keys are kept only as SHA-256 hashes; several may be valid at
-- once while a rotated key runs out its grace period.
CREATE TABLE webhook_credentials (
    id          BIGSERIAL PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhook_registrations (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('api_key')),
    secret_hash BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ
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
