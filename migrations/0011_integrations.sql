-- Integrations (API.md, "Integrations"; docs/design.md, "Integrations"):
-- an organization's Google Calendar, Twilio and Vapi settings, providers'
-- linked calendars, the busy times imported from them, and deliveries
-- that are not webhooks.

-- One row per organization and kind. `settings` holds what GET shows
-- (clientId; accountSid, fromNumber, reminderHoursBefore; assistantId,
-- phoneNumberId, reminderCallHoursBefore); `secret` the write-only fields
-- as a JSON object, sealed with AES-256-GCM under BOOKD_SECRET_KEY
-- (core/secretbox), bound to "integrations.secret:<org>:<kind>"; Google's
-- access token likewise, bound to "integrations.token:<org>:google".
CREATE TABLE integrations (
    org_id            uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('google', 'twilio', 'vapi')),
    settings          jsonb NOT NULL,
    secret            bytea NOT NULL,
    secret_key_id     text NOT NULL,
    token             bytea,
    token_key_id      text,
    token_expires_at  timestamptz,
    last_error        text CHECK (length(last_error) <= 300),
    last_error_at     timestamptz,
    last_success_at   timestamptz,
    -- Set when the service refused the credentials (Google's token grant,
    -- a 401/403 from Twilio or Vapi): the kind's deliveries wait, kept,
    -- until the settings are put again.
    stopped_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, kind)
);

-- A provider linked to a Google calendar. The worker imports its busy
-- times when sync_due_at has come (then sets it BOOKD_GOOGLE_SYNC_SECONDS
-- ahead); POST .../calendar/sync sets it to now.
CREATE TABLE provider_calendars (
    provider_id    uuid PRIMARY KEY,
    org_id         uuid NOT NULL,
    calendar_id    text NOT NULL CHECK (length(calendar_id) BETWEEN 1 AND 1024),
    sync_due_at    timestamptz NOT NULL DEFAULT now(),
    locked_until   timestamptz,
    -- When the running import was claimed: a request made after it is
    -- not answered by it, so the next one stays due.
    claimed_at     timestamptz,
    synced_at      timestamptz,
    busy_count     int NOT NULL DEFAULT 0,
    last_error     text CHECK (length(last_error) <= 300),
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, provider_id) REFERENCES providers (org_id, id) ON DELETE CASCADE
);
CREATE INDEX provider_calendars_due ON provider_calendars (sync_due_at);

-- Busy times imported from a provider's calendar. Checked by every writer
-- under the bucket locks, and by the check and free slots, through the
-- GiST index (docs/design.md, "Busy times").
CREATE TABLE busy_times (
    provider_id  uuid NOT NULL REFERENCES provider_calendars ON DELETE CASCADE,
    during       tstzrange NOT NULL CHECK (NOT isempty(during)),
    source       text NOT NULL DEFAULT 'google' CHECK (source IN ('google')),
    external_id  text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 1024)
);
CREATE INDEX busy_times_during ON busy_times USING gist (provider_id, during);

-- The Google event of an appointment, once inserted.
ALTER TABLE appointments ADD COLUMN google_event_id text;

-- Deliveries to integrations: `target` is "google", "twilio" or "vapi",
-- `action` what to do there, `appointment_id` whom it is about. A
-- reminder is a delivery due at its time, made void by the cancel or
-- reschedule that makes it moot.
ALTER TABLE deliveries
    ADD COLUMN action text NOT NULL DEFAULT 'webhook' CHECK (action IN (
        'webhook', 'google.insert', 'google.delete', 'sms.booked', 'sms.rescheduled',
        'sms.cancelled', 'sms.reminder', 'call.reminder')),
    ADD COLUMN appointment_id uuid,
    DROP CONSTRAINT deliveries_status_check,
    ADD CONSTRAINT deliveries_status_check
        CHECK (status IN ('pending', 'failed', 'delivered', 'dead', 'void')),
    DROP CONSTRAINT deliveries_event_id_target_key,
    -- One delivery per event, target, action and appointment (an erasure
    -- deletes the events of several); a webhook's has no appointment.
    ADD CONSTRAINT deliveries_event_target_action_key
        UNIQUE NULLS NOT DISTINCT (event_id, target, action, appointment_id);
-- A void delivery is finished like a delivered one (delivered_at says
-- when) and purged alike.
DROP INDEX deliveries_delivered;
CREATE INDEX deliveries_finished ON deliveries (delivered_at) WHERE status IN ('delivered', 'void');
CREATE INDEX deliveries_waiting_appointment ON deliveries (appointment_id)
    WHERE appointment_id IS NOT NULL AND status IN ('pending', 'failed');

-- A busy time that is in the way is reported through the conflict paths
-- as a row of appointments with status 'busy' (sql/10_booking.sql,
-- bk_find_busy): the status domain knows the word, the table never holds
-- it.
ALTER DOMAIN bk_appointment_status DROP CONSTRAINT bk_appointment_status_check;
ALTER DOMAIN bk_appointment_status ADD CONSTRAINT bk_appointment_status_check
    CHECK (VALUE IN ('confirmed', 'cancelled', 'rescheduled', 'held', 'busy'));
ALTER TABLE appointments ADD CONSTRAINT appointments_never_busy
    CHECK (status::text <> 'busy') NOT VALID;

-- deliveries_claim answers more columns (the action, Google's token): its
-- row type changes, which CREATE OR REPLACE cannot do; sql/ makes it anew.
DROP FUNCTION IF EXISTS deliveries_claim(int, int);
