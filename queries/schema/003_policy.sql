-- Contact policy: the rule packs of portal/rule_packs.toml (plus any organisation file) as rows the
-- policy queries join on `$pack`, the complaint issue -> rule mapping, and the installed engine version.
-- portal/policy.py refreshes all three idempotently whenever a database is opened.

create table if not exists rule_packs (
    pack varchar primary key,
    label varchar,
    is_scenario boolean not null default false,
    rules varchar [] not null,
    timezone_default varchar not null,
    quiet_start_s integer,
    quiet_end_s integer,
    exempt_channels varchar [] not null,
    connected_calls_per_day integer,
    unanswered_calls_per_day integer,
    third_party_after_rpc_days integer,
    visit_min_collectors integer,
    calls_in_window integer,
    call_window_days integer,
    no_call_after_conversation_days integer,
    complaint_decision_days integer,
    complaint_max_days integer,
    synced_at timestamptz not null
);

create table if not exists policy_issue_rules (
    issue varchar not null,
    rule varchar not null,
    primary key (issue, rule)
);

create table if not exists policy_engine (
    name varchar primary key,
    sha256 varchar not null,
    installed_at timestamptz not null
);
