-- vapi_book takes the organization's time zone (the caller read it with
-- the Vapi secret), so its answer costs no lookup of the organization
-- (sql/60_vapi.sql; bench/HISTORY.md, step 32). The old signature goes.
DROP FUNCTION IF EXISTS vapi_book(uuid, text, text, text, text, text, text, uuid, uuid,
                                  timestamptz, int, bigint[], timestamptz, timestamptz, int);
