-- Keyed audit chain: each event names the key that signs it (HMAC-SHA256 under a key kept outside
-- the database; null for the legacy sha256 events written before keys existed) and carries the hash
-- of its complaint's row as the event left it, so verify catches a row edited behind the chain's
-- back, and as the event found it (row_hash_before: null for a row the event's transaction created,
-- '-' when its writer did not read it), so a later event cannot vouch for such an edit. The head records the key that signs the chain now (null until the first keyed event, when
-- a legacy chain is sealed); a key change is a rotation event signed with the old key.

alter table complaint_events add column if not exists key_id varchar;
alter table complaint_events add column if not exists row_hash varchar;
alter table complaint_events add column if not exists row_hash_before varchar;
alter table audit_chain_head add column if not exists key_id varchar;
