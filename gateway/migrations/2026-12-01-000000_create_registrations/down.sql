DROP TABLE webhook_credentials;
DROP TABLE webhook_registrations;
DROP FUNCTION webhook_registration_notify();
DROP FUNCTION webhook_registration_touch();
