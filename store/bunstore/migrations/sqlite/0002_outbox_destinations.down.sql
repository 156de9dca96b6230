-- Reverts paykit schema 0002 for SQLite. The subscribers' messages become
-- their events' (a failed one pending again); the endpoints' are deleted.
CREATE TABLE paykit_outbox_0001 (
    event_id        TEXT    NOT NULL,
    -- seq is the event's: delivery order within a stream.
    seq             INTEGER NOT NULL,
    stream          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     TEXT,
    last_error      TEXT    NOT NULL DEFAULT '',
    delivered_at    TEXT,
    CONSTRAINT paykit_outbox_pkey PRIMARY KEY (event_id),
    CONSTRAINT paykit_outbox_event_fkey FOREIGN KEY (event_id) REFERENCES paykit_events (id),
    CONSTRAINT paykit_outbox_attempts_check CHECK (attempts >= 0)
) STRICT;

INSERT INTO paykit_outbox_0001 (event_id, seq, stream, attempts, next_attempt_at, lease_owner,
    lease_until, last_error, delivered_at)
SELECT event_id, seq, stream, attempts, next_attempt_at, lease_owner,
    lease_until, last_error, delivered_at
FROM paykit_outbox WHERE destination IN ('', 'subscribers');

DROP TABLE paykit_outbox;
ALTER TABLE paykit_outbox_0001 RENAME TO paykit_outbox;

CREATE INDEX paykit_outbox_pending_idx ON paykit_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX paykit_outbox_stream_idx ON paykit_outbox (stream, seq) WHERE delivered_at IS NULL;
