-- paykit schema 0001 for PostgreSQL.
-- Times are timestamptz (UTC), nested values jsonb, money bigint minor units.

CREATE TABLE paykit_payments (
    id                    text        NOT NULL,
    provider              text        NOT NULL,
    method                text        NOT NULL,
    order_id              text        NOT NULL,
    amount                bigint      NOT NULL,
    currency              text        NOT NULL,
    amount_captured       bigint      NOT NULL DEFAULT 0,
    amount_refunded       bigint      NOT NULL DEFAULT 0,
    amount_refund_pending bigint      NOT NULL DEFAULT 0,
    status                text        NOT NULL,
    capture_method        text        NOT NULL DEFAULT '',
    provider_reference    text        NOT NULL DEFAULT '',
    next_action           jsonb,
    failure               jsonb,
    card                  jsonb,
    customer              jsonb,
    description           text        NOT NULL DEFAULT '',
    items                 jsonb,
    metadata              jsonb,
    return_url            text        NOT NULL DEFAULT '',
    flags                 jsonb,
    expires_at            timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    next_sync_at          timestamptz,
    version               bigint      NOT NULL,
    -- holds_order: the payment holds its (provider, order_id) until it first
    -- becomes failed, canceled or expired; it is never set again.
    holds_order           boolean     NOT NULL,
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
);

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
    id                 text        NOT NULL,
    payment_id         text        NOT NULL,
    amount             bigint      NOT NULL,
    currency           text        NOT NULL,
    status             text        NOT NULL,
    reason             text        NOT NULL DEFAULT '',
    provider_reference text        NOT NULL DEFAULT '',
    failure            jsonb,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT paykit_refunds_pkey PRIMARY KEY (id),
    CONSTRAINT paykit_refunds_payment_fkey FOREIGN KEY (payment_id) REFERENCES paykit_payments (id),
    CONSTRAINT paykit_refunds_amount_check CHECK (amount > 0)
);

-- ListRefunds.
CREATE INDEX paykit_refunds_payment_idx ON paykit_refunds (payment_id, created_at);

CREATE TABLE paykit_payouts (
    id                  text        NOT NULL,
    provider            text        NOT NULL,
    order_id            text        NOT NULL,
    amount              bigint      NOT NULL,
    currency            text        NOT NULL,
    fee                 bigint      NOT NULL DEFAULT 0,
    transfer_amount     bigint      NOT NULL DEFAULT 0,
    bank_code           text        NOT NULL,
    bank_account_number text        NOT NULL,
    bank_account_name   text        NOT NULL,
    status              text        NOT NULL,
    provider_reference  text        NOT NULL DEFAULT '',
    failure             jsonb,
    metadata            jsonb,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    next_sync_at        timestamptz,
    version             bigint      NOT NULL,
    CONSTRAINT paykit_payouts_pkey PRIMARY KEY (id),
    CONSTRAINT paykit_payouts_order_key UNIQUE (provider, order_id),
    CONSTRAINT paykit_payouts_amount_check CHECK (amount > 0),
    CONSTRAINT paykit_payouts_fee_check CHECK (fee >= 0 AND transfer_amount >= 0),
    CONSTRAINT paykit_payouts_version_check CHECK (version > 0)
);

-- GetPayoutByReference.
CREATE INDEX paykit_payouts_reference_idx
    ON paykit_payouts (provider, provider_reference) WHERE provider_reference <> '';
-- ClaimDuePayouts.
CREATE INDEX paykit_payouts_due_idx
    ON paykit_payouts (next_sync_at) WHERE next_sync_at IS NOT NULL;

-- The audit trail, append-only. seq is the order of appending (read through
-- the indexes below, so it needs none of its own).
CREATE TABLE paykit_events (
    seq               bigint      GENERATED ALWAYS AS IDENTITY,
    id                text        NOT NULL,
    type              text        NOT NULL,
    object_id         text        NOT NULL,
    payment_id        text        NOT NULL DEFAULT '',
    from_status       text        NOT NULL DEFAULT '',
    to_status         text        NOT NULL DEFAULT '',
    source            text        NOT NULL DEFAULT '',
    provider_event_id text        NOT NULL DEFAULT '',
    reason            text        NOT NULL DEFAULT '',
    -- json, not jsonb: the object as it was, byte for byte.
    data              json,
    created_at        timestamptz NOT NULL,
    CONSTRAINT paykit_events_pkey PRIMARY KEY (id)
);

-- ListEvents, by object and by payment (the events of a payment's refunds;
-- its own events are found by object).
CREATE INDEX paykit_events_object_idx ON paykit_events (object_id, seq);
CREATE INDEX paykit_events_payment_idx ON paykit_events (payment_id, seq)
    WHERE payment_id <> '' AND payment_id <> object_id;

-- Notifications to deliver: one row per notifying event.
CREATE TABLE paykit_outbox (
    event_id        text        NOT NULL,
    -- seq is the event's: delivery order within a stream.
    seq             bigint      NOT NULL,
    stream          text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text        NOT NULL DEFAULT '',
    lease_until     timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    CONSTRAINT paykit_outbox_pkey PRIMARY KEY (event_id),
    CONSTRAINT paykit_outbox_event_fkey FOREIGN KEY (event_id) REFERENCES paykit_events (id),
    CONSTRAINT paykit_outbox_attempts_check CHECK (attempts >= 0)
);

-- ClaimOutbox: undelivered messages in order, and the head of each stream.
CREATE INDEX paykit_outbox_pending_idx ON paykit_outbox (seq) WHERE delivered_at IS NULL;
CREATE INDEX paykit_outbox_stream_idx ON paykit_outbox (stream, seq) WHERE delivered_at IS NULL;

-- Inbound provider events, once per (provider, event_key). seq orders
-- messages received at the same time.
CREATE TABLE paykit_inbox (
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    provider     text        NOT NULL,
    event_key    text        NOT NULL,
    status       text        NOT NULL,
    object_id    text        NOT NULL DEFAULT '',
    payload      bytea,
    error        text        NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL,
    processed_at timestamptz,
    CONSTRAINT paykit_inbox_pkey PRIMARY KEY (provider, event_key)
);

-- ListInbox.
CREATE INDEX paykit_inbox_status_idx ON paykit_inbox (status, received_at, seq);

CREATE TABLE paykit_idempotency_keys (
    idem_key     text        NOT NULL,
    fingerprint  text        NOT NULL,
    resource_id  text        NOT NULL DEFAULT '',
    status       text        NOT NULL,
    response     bytea,
    locked_until timestamptz,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT paykit_idempotency_keys_pkey PRIMARY KEY (idem_key)
);

-- DeleteExpiredIdempotencyKeys.
CREATE INDEX paykit_idempotency_keys_expires_idx ON paykit_idempotency_keys (expires_at);
