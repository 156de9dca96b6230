-- Reverts paykit schema 0002 for PostgreSQL. The subscribers' messages
-- become their events' (a failed one pending again); the endpoints' are
-- deleted.
DROP INDEX IF EXISTS paykit_outbox_failed_event_idx;
DROP INDEX IF EXISTS paykit_outbox_failed_idx;
DROP INDEX IF EXISTS paykit_outbox_queue_idx;
DROP INDEX IF EXISTS paykit_outbox_pending_idx;

DELETE FROM paykit_outbox WHERE destination NOT IN ('', 'subscribers');
UPDATE paykit_outbox SET id = event_id, destination = '' WHERE destination = 'subscribers';

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
