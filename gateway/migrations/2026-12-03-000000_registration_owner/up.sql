-- The resource a Kubernetes-managed registration belongs to (`<namespace>/<name>`), so that two
-- resources naming the same webhook id cannot take each other's registration, and deleting one
-- removes only its own row.
ALTER TABLE webhook_registrations ADD COLUMN owner TEXT;
ALTER TABLE webhook_registrations ADD CONSTRAINT webhook_registrations_owner_managed
    CHECK (managed_by <> 'kubernetes' OR owner IS NOT NULL);
