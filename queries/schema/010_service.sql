-- Running as a service: API tokens (stored as SHA-256 hashes, never in clear), the log of every API
-- request that presented a token (or failed to), and the server-side records of browser sign-ins that
-- the portal_session cookie points to (also stored hashed; last_seen_at drives the inactivity timeout).

create table if not exists api_tokens (
    name varchar primary key,
    role varchar not null,
    token_hash varchar not null unique,
    token_prefix varchar not null,
    created_at timestamptz not null,
    created_by varchar,
    revoked_at timestamptz,
    revoked_by varchar
);

create table if not exists api_token_uses (
    used_at timestamptz not null,
    token_name varchar,
    role varchar,
    method varchar not null,
    path varchar not null,
    status integer not null,
    client varchar
);

create table if not exists web_sessions (
    session_hash varchar primary key,
    username varchar not null,
    created_at timestamptz not null,
    last_seen_at timestamptz not null,
    revoked_at timestamptz,
    revoked_reason varchar
);
