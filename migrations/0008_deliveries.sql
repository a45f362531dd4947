-- Delivery of the outbox (docs/design.md, "Deliveries"): webhook endpoints,
-- one delivery per event and target, and the circuit breakers the workers
-- share.

CREATE TABLE webhook_endpoints (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    url           text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    events        text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 16),
    -- The signing key, sealed with AES-256-GCM under BOOKD_SECRET_KEY
    -- (core/secretbox); secret_key_id names that key, for rotation.
    secret        bytea NOT NULL,
    secret_key_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when the receiver answered 410 Gone.
    disabled_at   timestamptz,
    UNIQUE (org_id, id)
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id) WHERE disabled_at IS NULL;

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- No foreign key of its own: the event's (and so the organization's)
    -- covers it, and each foreign key check costs an inserted delivery a
    -- lookup (bench/HISTORY.md, step 29).
    org_id           uuid NOT NULL,
    event_id         uuid NOT NULL REFERENCES outbox_events ON DELETE CASCADE,
    -- "webhook:<endpoint id>"; later "google", "twilio", "vapi".
    target           text NOT NULL,
    endpoint_id      uuid REFERENCES webhook_endpoints ON DELETE CASCADE,
    -- pending: not tried yet (or queued again by hand); failed: the last
    -- attempt failed and another is scheduled; delivered; dead: no attempt
    -- left, or its endpoint disabled.
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'failed', 'delivered', 'dead')),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- A worker's lease: claimed rows are skipped by other workers until it
    -- runs out (a worker killed mid-send leaves them claimable again).
    locked_until     timestamptz,
    last_status_code int,
    last_error       text CHECK (length(last_error) <= 300),
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, target)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_org ON deliveries (org_id, created_at DESC, id);
CREATE INDEX deliveries_delivered ON deliveries (delivered_at) WHERE status = 'delivered';
CREATE INDEX deliveries_waiting ON deliveries (endpoint_id) WHERE status IN ('pending', 'failed');

-- One circuit breaker per organization and target, the row of
-- struct core_breaker (src/core/breaker.h), read and written under
-- SELECT ... FOR UPDATE by every worker.
CREATE TABLE breakers (
    org_id               uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    target               text NOT NULL,
    state                smallint NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),
    window_bits          bigint NOT NULL DEFAULT 0 CHECK (window_bits >= 0),
    window_calls         int NOT NULL DEFAULT 0,
    consecutive_failures int NOT NULL DEFAULT 0,
    opened_at            timestamptz,
    trials_in_flight     int NOT NULL DEFAULT 0,
    trials_succeeded     int NOT NULL DEFAULT 0,
    trial_claimed_at     timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, target)
);

-- Events wait for the worker's fan-out on this index; processed_at is set
-- when their deliveries exist.
CREATE INDEX outbox_events_processed ON outbox_events (processed_at) WHERE processed_at IS NOT NULL;
