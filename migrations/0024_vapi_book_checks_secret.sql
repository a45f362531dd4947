-- vapi_book checks the Vapi secret itself, as the first thing its
-- transaction does (p_secret_hash; NULL when the request's secret was
-- already looked up), so a secret bookd has cached is refused at once
-- after a rotation, and a booking by phone costs no separate lookup
-- (sql/60_vapi.sql; bench/HISTORY.md, step 52). The old signature goes.
DROP FUNCTION IF EXISTS vapi_book(uuid, text, text, text, text, text, text, uuid, uuid,
                                  timestamptz, int, bigint[], timestamptz, timestamptz, int, text);
