-- The booking and manage pages (docs/web.md, "The page key"): each
-- organization gets one more public-scope key, of kind 'page', that bookd
-- embeds in its pages. Every visitor of the booking page receives it, so it
-- is kept in clear beside its hash (which is what requests are looked up
-- by); at most one unrevoked page key per organization.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('admin', 'public', 'page'));
ALTER TABLE api_keys ADD COLUMN page_key text;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_page_key_check
    CHECK ((kind = 'page') = (page_key IS NOT NULL));
CREATE UNIQUE INDEX api_keys_one_page_key ON api_keys (org_id)
    WHERE kind = 'page' AND revoked_at IS NULL;
