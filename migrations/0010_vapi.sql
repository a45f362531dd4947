-- The Vapi voice agent (API.md, "Vapi"): audit entries about the
-- organization itself (its Vapi secret rotated) have entity type
-- 'organization'.

ALTER TABLE audit_logs
    DROP CONSTRAINT audit_logs_entity_type_check,
    ADD CONSTRAINT audit_logs_entity_type_check CHECK (entity_type IN (
        'appointment', 'contact', 'provider', 'service', 'webhook_endpoint', 'hold',
        'organization'));

-- What a call holds: the time checkAvailability offered first and holds for
-- the caller, so that bookAppointment in the same call converts it and a
-- later offer releases it. Call ids are Vapi's; no personal data.
CREATE TABLE vapi_call_holds (
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    call_id      text NOT NULL CHECK (length(call_id) BETWEEN 1 AND 200),
    hold_id      uuid NOT NULL,
    scheduled_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, call_id)
);

-- The answer given to a tool call, so that Vapi's retry of the same
-- toolCallId gets it again byte for byte, and, for a booking, the call and
-- the appointment (GET /api/calls lists a call's appointments from here:
-- no second write on the voice agent's hot path). Answers name times only.
-- Kept as long as calls are (purged by age, through its index).
CREATE TABLE vapi_tool_results (
    org_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_call_id   text NOT NULL CHECK (length(tool_call_id) BETWEEN 1 AND 200),
    is_error       boolean NOT NULL,
    answer         text NOT NULL,
    call_id        text CHECK (length(call_id) BETWEEN 1 AND 200),
    appointment_id uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, tool_call_id)
);
CREATE INDEX vapi_tool_results_call ON vapi_tool_results (org_id, call_id)
    WHERE appointment_id IS NOT NULL;
CREATE INDEX vapi_tool_results_age ON vapi_tool_results (created_at);

-- bookAppointment finds the caller by phone.
CREATE INDEX contacts_phone ON contacts (org_id, phone) WHERE erased_at IS NULL;

-- The calls Vapi reported (status-update, end-of-call-report) for GET
-- /api/calls: ids, status, times, how it ended (what it booked is in
-- vapi_tool_results). Nothing a caller said: no transcript, no recording,
-- no number.
CREATE TABLE vapi_calls (
    org_id          uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    call_id         text NOT NULL CHECK (length(call_id) BETWEEN 1 AND 200),
    status          text NOT NULL CHECK (length(status) BETWEEN 1 AND 40),
    started_at      timestamptz,
    ended_at        timestamptz,
    ended_reason    text CHECK (length(ended_reason) <= 100),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, call_id)
);
CREATE INDEX vapi_calls_recent ON vapi_calls (org_id, updated_at DESC);
CREATE INDEX vapi_calls_age ON vapi_calls (updated_at);
CREATE INDEX vapi_call_holds_age ON vapi_call_holds (created_at);
