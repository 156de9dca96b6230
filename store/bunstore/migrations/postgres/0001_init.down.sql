-- Reverts paykit schema 0001 for PostgreSQL. Deletes every record.
DROP TABLE IF EXISTS paykit_idempotency_keys;
DROP TABLE IF EXISTS paykit_inbox;
DROP TABLE IF EXISTS paykit_outbox;
DROP TABLE IF EXISTS paykit_events;
DROP TABLE IF EXISTS paykit_payouts;
DROP TABLE IF EXISTS paykit_refunds;
DROP TABLE IF EXISTS paykit_payments;
