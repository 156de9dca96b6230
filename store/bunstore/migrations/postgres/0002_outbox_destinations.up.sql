-- paykit schema 0002 for PostgreSQL: outbox destinations and failed messages.
--
-- An event gets one outbox message per destination (id
-- event_id/destination, a seq of its own from the events' counter, taken
-- after its event's); 0001's pending messages, all for the in-process
-- subscribers, become that destination's. A message whose
-- delivery was given up is failed (failed_at) until it is redelivered.
-- Pending means neither delivered nor failed: each (destination, stream) is
-- delivered oldest pending first.

ALTER TABLE paykit_outbox
    ADD COLUMN id          text,
    ADD COLUMN destination text NOT NULL DEFAULT '',
    ADD COLUMN failed_at   timestamptz;

UPDATE paykit_outbox SET id = event_id;
UPDATE paykit_outbox SET id = event_id || '/subscribers', destination = 'subscribers'
    WHERE delivered_at IS NULL;

ALTER TABLE paykit_outbox
    ALTER COLUMN id SET NOT NULL,
    DROP CONSTRAINT paykit_outbox_pkey,
    ADD CONSTRAINT paykit_outbox_pkey PRIMARY KEY (id),
    ADD CONSTRAINT paykit_outbox_destination_check CHECK (destination <> '' OR id = event_id),
    ADD CONSTRAINT paykit_outbox_state_check CHECK (delivered_at IS NULL OR failed_at IS NULL);

-- ClaimOutbox: pending messages in order, and the oldest pending message of
-- each (destination, stream).
DROP INDEX paykit_outbox_pending_idx;
DROP INDEX paykit_outbox_stream_idx;
CREATE INDEX paykit_outbox_pending_idx ON paykit_outbox (seq)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX paykit_outbox_queue_idx ON paykit_outbox (destination, stream, seq)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- ListFailedOutbox.
CREATE INDEX paykit_outbox_failed_idx ON paykit_outbox (failed_at, seq) WHERE failed_at IS NOT NULL;
-- RedeliverOutbox.
CREATE INDEX paykit_outbox_failed_event_idx ON paykit_outbox (event_id) WHERE failed_at IS NOT NULL;
