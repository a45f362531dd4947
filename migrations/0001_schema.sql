-- The data model. Every row carries org_id and every query filters by it.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    text NOT NULL,
    -- SHA-256 of the Vapi secret: the secret itself is shown once.
    vapi_secret_hash bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('admin', 'public')),
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE providers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- {"mon":[["09:00","17:00"]], ...} in the organization's local time.
    working_hours jsonb NOT NULL,
    is_default    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX providers_one_default ON providers (org_id) WHERE is_default;

CREATE TABLE services (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    duration_minutes      int  NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    buffer_before_minutes int  NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
    buffer_after_minutes  int  NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
    created_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);

CREATE TABLE contacts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    -- NULL after erasure (right to be forgotten); the row stays so that
    -- appointments keep their contact_id.
    name        text,
    phone       text,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    UNIQUE (org_id, id)
);
CREATE INDEX contacts_org_phone ON contacts (org_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE appointments (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                uuid NOT NULL,
    provider_id           uuid NOT NULL,
    contact_id            uuid NOT NULL,
    service_id            uuid,
    scheduled_at          timestamptz NOT NULL,
    duration_minutes      int NOT NULL CHECK (duration_minutes BETWEEN 1 AND 1440),
    ends_at               timestamptz NOT NULL,
    buffer_before_minutes int NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
    buffer_after_minutes  int NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
    -- The range that must not overlap another confirmed appointment of the
    -- same provider: [scheduled_at - buffer_before, ends_at + buffer_after).
    buffered_start        timestamptz NOT NULL,
    buffered_end          timestamptz NOT NULL,
    status                text NOT NULL DEFAULT 'confirmed'
                          CHECK (status IN ('confirmed', 'cancelled', 'rescheduled')),
    notes                 text CHECK (length(notes) <= 2000),
    metadata              jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at            timestamptz NOT NULL DEFAULT now(),
    cancelled_at          timestamptz,
    cancel_reason         text CHECK (length(cancel_reason) <= 2000),
    -- Deferred: reschedule retires the old row before the new one exists.
    rescheduled_to        uuid REFERENCES appointments DEFERRABLE INITIALLY DEFERRED,
    rescheduled_from      uuid REFERENCES appointments,
    deleted_at            timestamptz,
    FOREIGN KEY (org_id, provider_id) REFERENCES providers (org_id, id),
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id),
    FOREIGN KEY (org_id, service_id) REFERENCES services (org_id, id),
    -- Derived columns are checked rather than trusted, so a caller that
    -- bypasses the booking functions cannot store an inconsistent range.
    CHECK (ends_at = scheduled_at + make_interval(mins => duration_minutes)),
    CHECK (buffered_start = scheduled_at - make_interval(mins => buffer_before_minutes)),
    CHECK (buffered_end = ends_at + make_interval(mins => buffer_after_minutes)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CHECK ((status = 'rescheduled') = (rescheduled_to IS NOT NULL)),
    -- The last line of defence: no two confirmed appointments of one
    -- provider overlap, whoever writes them. Touching ranges are fine ('[)').
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        provider_id WITH =,
        tstzrange(buffered_start, buffered_end, '[)') WITH &&
    ) WHERE (status = 'confirmed')
);
-- Listing by time (the admin calendar) and lookups by contact.
CREATE INDEX appointments_org_time ON appointments (org_id, scheduled_at, id);
CREATE INDEX appointments_contact ON appointments (org_id, contact_id, scheduled_at);

CREATE TABLE audit_logs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    entity_type text NOT NULL
                CHECK (entity_type IN ('appointment', 'contact', 'provider', 'service', 'webhook_endpoint')),
    entity_id   uuid NOT NULL,
    -- Never personal data: ids, times, statuses only.
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_logs_org_at ON audit_logs (org_id, at DESC, id DESC);
CREATE INDEX audit_logs_org_entity ON audit_logs (org_id, entity_id, at DESC, id DESC);

CREATE TABLE idempotency_keys (
    org_id       uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the operation and the request body as a JSON value.
    request_hash bytea NOT NULL,
    -- The booking function's own result, replayed on a retry.
    result       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Written in the same transaction as the change it reports; delivered by
-- the worker (webhooks, Google Calendar, Twilio).
CREATE TABLE outbox_events (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    event_type   text NOT NULL,
    entity_id    uuid NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE INDEX outbox_events_pending ON outbox_events (created_at) WHERE processed_at IS NULL;
