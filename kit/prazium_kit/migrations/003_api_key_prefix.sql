-- The first characters of each new key (pzm_ + 8), shown by the admin key list so
-- a person can tell their keys apart; the rest of the key is never stored.
-- Keys created before this migration have none (NULL).
ALTER TABLE api_keys ADD COLUMN key_prefix TEXT;
-- The admin list pages through one tenant's keys, newest first.
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at DESC);
