-- Access control: local accounts with argon2 hashes and lockout state,
-- the sign-in log, and the audit log of every reveal of masked personal data.

create table if not exists users (
    username varchar primary key,
    display_name varchar,
    role varchar not null,
    password_hash varchar not null,
    is_active boolean not null default true,
    failed_attempts integer not null default 0,
    locked_until timestamptz,
    password_changed_at timestamptz not null,
    created_at timestamptz not null,
    created_by varchar,
    last_login_at timestamptz
);

create table if not exists login_attempts (
    username varchar not null,
    attempted_at timestamptz not null,
    succeeded boolean not null,
    reason varchar not null
);

create table if not exists pii_reveals (
    revealed_by varchar not null,
    role varchar not null,
    table_name varchar not null,
    record_key varchar not null,
    field_name varchar not null,
    reason varchar not null,
    revealed_at timestamptz not null
);
