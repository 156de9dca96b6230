-- paykit schema 0002 for SQLite: outbox destinations and failed messages.
--
-- An event gets one outbox message per destination (id
-- event_id/destination, a seq of its own from the events' counter, taken
-- after its event's); 0001's pending messages, all for the in-process
-- subscribers, become that destination's. A message whose
-- delivery was given up is failed (failed_at) until it is redelivered.
-- Pending means neither delivered nor failed: each (destination, stream) is
-- delivered oldest pending first.
--
-- SQLite cannot change a primary key: the table is rebuilt (nothing
-- references it).

CREATE TABLE paykit_outbox_0002 (
    id              TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    destination     TEXT    NOT NULL DEFAULT '',
    -- seq orders delivery within a destination and stream.
    seq             INTEGER NOT NULL,
    stream          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     TEXT,
    last_error      TEXT    NOT NULL DEFAULT '',
    delivered_at    TEXT,
    failed_at       TEXT,
    CONSTRAINT paykit_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT paykit_outbox_event_fkey FOREIGN KEY (event_id) REFERENCES paykit_events (id),
    CONSTRAINT paykit_outbox_attempts_check CHECK (attempts >= 0),
    CONSTRAINT paykit_outbox_destination_check CHECK (destination <> '' OR id = event_id),
    CONSTRAINT paykit_outbox_state_check CHECK (delivered_at IS NULL OR failed_at IS NULL)
) STRICT;

INSERT INTO paykit_outbox_0002 (id, event_id, destination, seq, stream, attempts, next_attempt_at,
    lease_owner, lease_until, last_error, delivered_at)
SELECT CASE WHEN delivered_at IS NULL THEN event_id || '/subscribers' ELSE event_id END, event_id,
    CASE WHEN delivered_at IS NULL THEN 'subscribers' ELSE '' END, seq, stream, attempts, next_attempt_at,
    lease_owner, lease_until, last_error, delivered_at
FROM paykit_outbox;

DROP TABLE paykit_outbox;
ALTER TABLE paykit_outbox_0002 RENAME TO paykit_outbox;

-- ClaimOutbox: pending messages in order, and the oldest pending message of
-- each (destination, stream).
CREATE INDEX paykit_outbox_pending_idx ON paykit_outbox (seq)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX paykit_outbox_queue_idx ON paykit_outbox (destination, stream, seq)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- ListFailedOutbox.
CREATE INDEX paykit_outbox_failed_idx ON paykit_outbox (failed_at, seq) WHERE failed_at IS NOT NULL;
-- RedeliverOutbox.
CREATE INDEX paykit_outbox_failed_event_idx ON paykit_outbox (event_id) WHERE failed_at IS NOT NULL;
