-- Bookkeeping for the derived tables (portal/derived.py, queries/derived/*.sql): per table, the
-- fingerprint of the base tables it was computed from and of its own SQL, so a stale table is
-- rebuilt before a named query reads it.
create table if not exists derived_state (
    name varchar primary key,
    fingerprint varchar not null,
    signature varchar not null,
    refreshed_at timestamptz not null,
    seconds double not null
);
