-- Reverts paykit schema 0002 for PostgreSQL. Deletes the messages fanned
-- out to destinations; a failed message of an event becomes pending again.
DROP INDEX IF EXISTS paykit_outbox_failed_event_idx;
DROP INDEX IF EXISTS paykit_outbox_failed_idx;
DROP INDEX IF EXISTS paykit_outbox_queue_idx;
DROP INDEX IF EXISTS paykit_outbox_pending_idx;

DELETE FROM paykit_outbox WHERE destination <> '';

ALTER TABLE paykit_outbox
    DROP CONSTRAINT paykit_outbox_state_check,
    DROP CONSTRAINT paykit_outbox_destination_check,
    DROP CONSTRAINT paykit_outbox_pkey,
    ADD CONSTRAINT paykit_outbox_pkey PRIMARY KEY (event_id);

ALTER TABLE paykit_outbox
    DROP COLUMN failed_at,
    DROP COLUMN destination,
    DROP COLUMN id;

CREATE INDEX paykit_outbox_pending_idx ON paykit_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX paykit_outbox_stream_idx ON paykit_outbox (stream, seq) WHERE delivered_at IS NULL;
