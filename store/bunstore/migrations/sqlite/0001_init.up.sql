-- paykit schema 0001 for SQLite.
-- STRICT tables. Times are TEXT in UTC, fixed width
-- ("2006-01-02T15:04:05.000000Z"), so they sort and compare as text.
-- Nested values are JSON text, money INTEGER minor units, booleans 0 or 1.

CREATE TABLE paykit_payments (
    id                    TEXT    NOT NULL,
    provider              TEXT    NOT NULL,
    method                TEXT    NOT NULL,
    order_id              TEXT    NOT NULL,
    amount                INTEGER NOT NULL,
    currency              TEXT    NOT NULL,
    amount_captured       INTEGER NOT NULL DEFAULT 0,
    amount_refunded       INTEGER NOT NULL DEFAULT 0,
    amount_refund_pending INTEGER NOT NULL DEFAULT 0,
    status                TEXT    NOT NULL,
    capture_method        TEXT    NOT NULL DEFAULT '',
    provider_reference    TEXT    NOT NULL DEFAULT '',
    next_action           TEXT    CHECK (next_action IS NULL OR json_valid(next_action)),
    failure               TEXT    CHECK (failure IS NULL OR json_valid(failure)),
    card                  TEXT    CHECK (card IS NULL OR json_valid(card)),
    customer              TEXT    CHECK (customer IS NULL OR json_valid(customer)),
    description           TEXT    NOT NULL DEFAULT '',
    items                 TEXT    CHECK (items IS NULL OR json_valid(items)),
    metadata              TEXT    CHECK (metadata IS NULL OR json_valid(metadata)),
    return_url            TEXT    NOT NULL DEFAULT '',
    flags                 TEXT    CHECK (flags IS NULL OR json_valid(flags)),
    expires_at            TEXT,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    next_sync_at          TEXT,
    version               INTEGER NOT NULL,
    -- holds_order: the payment holds its (provider, order_id) until it first
    -- becomes failed, canceled or expired; it is never set again.
    holds_order           INTEGER NOT NULL CHECK (holds_order IN (0, 1)),
    CONSTRAINT paykit_payments_pkey PRIMARY KEY (id),
    CONSTRAINT paykit_payments_amount_check CHECK (amount > 0),
    CONSTRAINT paykit_payments_amounts_nonnegative_check
        CHECK (amount_captured >= 0 AND amount_refunded >= 0 AND amount_refund_pending >= 0),
    CONSTRAINT paykit_payments_captured_check CHECK (amount_captured <= amount),
    -- amount_refunded + amount_refund_pending <= amount_captured, written so
    -- that it cannot overflow.
    CONSTRAINT paykit_payments_refunded_check
        CHECK (amount_refunded <= amount_captured - amount_refund_pending),
    CONSTRAINT paykit_payments_version_check CHECK (version > 0)
) STRICT;

-- One payment at a time holds an order.
CREATE UNIQUE INDEX paykit_payments_order_holder_idx
    ON paykit_payments (provider, order_id) WHERE holds_order;
-- FindPayments (with or without a provider).
CREATE INDEX paykit_payments_order_idx ON paykit_payments (order_id, created_at);
-- GetPaymentByReference.
CREATE INDEX paykit_payments_reference_idx
    ON paykit_payments (provider, provider_reference) WHERE provider_reference <> '';
-- ClaimDuePayments.
CREATE INDEX paykit_payments_due_idx
    ON paykit_payments (next_sync_at) WHERE next_sync_at IS NOT NULL;

CREATE TABLE paykit_refunds (
    id                 TEXT    NOT NULL,
    payment_id         TEXT    NOT NULL,
    amount             INTEGER NOT NULL,
    currency           TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    reason             TEXT    NOT NULL DEFAULT '',
    provider_reference TEXT    NOT NULL DEFAULT '',
    failure            TEXT    CHECK (failure IS NULL OR json_valid(failure)),
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT paykit_refunds_pkey PRIMARY KEY (id),
    CONSTRAINT paykit_refunds_payment_fkey FOREIGN KEY (payment_id) REFERENCES paykit_payments (id),
    CONSTRAINT paykit_refunds_amount_check CHECK (amount > 0)
) STRICT;

-- ListRefunds.
CREATE INDEX paykit_refunds_payment_idx ON paykit_refunds (payment_id, created_at);

CREATE TABLE paykit_payouts (
    id                  TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    order_id            TEXT    NOT NULL,
    amount              INTEGER NOT NULL,
    currency            TEXT    NOT NULL,
    fee                 INTEGER NOT NULL DEFAULT 0,
    transfer_amount     INTEGER NOT NULL DEFAULT 0,
    bank_code           TEXT    NOT NULL,
    bank_account_number TEXT    NOT NULL,
    bank_account_name   TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    provider_reference  TEXT    NOT NULL DEFAULT '',
    failure             TEXT    CHECK (failure IS NULL OR json_valid(failure)),
    metadata            TEXT    CHECK (metadata IS NULL OR json_valid(metadata)),
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    next_sync_at        TEXT,
    version             INTEGER NOT NULL,
    CONSTRAINT paykit_payouts_pkey PRIMARY KEY (id),
    CONSTRAINT paykit_payouts_order_key UNIQUE (provider, order_id),
    CONSTRAINT paykit_payouts_amount_check CHECK (amount > 0),
    CONSTRAINT paykit_payouts_fee_check CHECK (fee >= 0 AND transfer_amount >= 0),
    CONSTRAINT paykit_payouts_version_check CHECK (version > 0)
) STRICT;

-- GetPayoutByReference.
CREATE INDEX paykit_payouts_reference_idx
    ON paykit_payouts (provider, provider_reference) WHERE provider_reference <> '';
-- ClaimDuePayouts.
CREATE INDEX paykit_payouts_due_idx
    ON paykit_payouts (next_sync_at) WHERE next_sync_at IS NOT NULL;

-- The audit trail, append-only. seq is the order of appending.
CREATE TABLE paykit_events (
    seq               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id                TEXT    NOT NULL,
    type              TEXT    NOT NULL,
    object_id         TEXT    NOT NULL,
    payment_id        TEXT    NOT NULL DEFAULT '',
    from_status       TEXT    NOT NULL DEFAULT '',
    to_status         TEXT    NOT NULL DEFAULT '',
    source            TEXT    NOT NULL DEFAULT '',
    provider_event_id TEXT    NOT NULL DEFAULT '',
    reason            TEXT    NOT NULL DEFAULT '',
    data              TEXT    CHECK (data IS NULL OR json_valid(data)),
    created_at        TEXT    NOT NULL,
    CONSTRAINT paykit_events_id_key UNIQUE (id)
) STRICT;

-- ListEvents, by object and by payment (the events of a payment's refunds;
-- its own events are found by object).
CREATE INDEX paykit_events_object_idx ON paykit_events (object_id, seq);
CREATE INDEX paykit_events_payment_idx ON paykit_events (payment_id, seq)
    WHERE payment_id <> '' AND payment_id <> object_id;

-- Notifications to deliver: one row per notifying event.
CREATE TABLE paykit_outbox (
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

-- ClaimOutbox: undelivered messages in order, and the head of each stream.
CREATE INDEX paykit_outbox_pending_idx ON paykit_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX paykit_outbox_stream_idx ON paykit_outbox (stream, seq) WHERE delivered_at IS NULL;

-- Inbound provider events, once per (provider, event_key).
CREATE TABLE paykit_inbox (
    seq          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    provider     TEXT    NOT NULL,
    event_key    TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    object_id    TEXT    NOT NULL DEFAULT '',
    payload      BLOB,
    error        TEXT    NOT NULL DEFAULT '',
    received_at  TEXT    NOT NULL,
    processed_at TEXT,
    CONSTRAINT paykit_inbox_event_key UNIQUE (provider, event_key)
) STRICT;

-- ListInbox.
CREATE INDEX paykit_inbox_status_idx ON paykit_inbox (status, received_at, seq);

CREATE TABLE paykit_idempotency_keys (
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    resource_id  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    response     BLOB,
    locked_until TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    CONSTRAINT paykit_idempotency_keys_pkey PRIMARY KEY (idem_key)
) STRICT;

-- DeleteExpiredIdempotencyKeys.
CREATE INDEX paykit_idempotency_keys_expires_idx ON paykit_idempotency_keys (expires_at);
