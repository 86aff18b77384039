-- Contact policy, materialised: every (pack, contact, rule) breach of the stored non-scenario rule packs,
-- kept by portal/policy.py as a derived table (portal/derived.py) so the Conduct queries read a plain
-- table instead of running the engine (queries/macros/policy_breaches.sql) on every view. An upload of
-- contacts recomputes only the time range its contacts can affect; a changed pack or engine rebuilds it.
-- policy_pack_rules lists each stored pack's rules in display order (plain columns, readable by Spark).

create table if not exists policy_breach_facts (
    pack varchar not null,
    rule varchar not null,
    contact_id varchar not null,
    loan_id varchar not null,
    customer_id varchar,
    contact_at timestamptz not null,
    local_time timestamp,
    channel varchar not null,
    outcome varchar not null,
    agent_id varchar,
    agency_id varchar
);

create table if not exists policy_pack_rules (
    pack varchar not null,
    rule varchar not null,
    rule_order integer not null
);
