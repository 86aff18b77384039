-- KPI alerts (portal/alerts.py): each rule's state transitions, and where each rule's state stands.
-- alert_history holds one row per transition (a rule starting or stopping to fire at a month-end), never
-- one per check, so re-checking the same data writes nothing. alert_state is the last state per rule:
-- whether it fired at the newest month-end checked, which month-end that was, and the rule's definition
-- fingerprint at the time (an edited rule carries on from its old state).
create sequence if not exists alert_event_seq start 1;

create table if not exists alert_history (
    event_id bigint primary key default nextval('alert_event_seq'),
    alert_rule varchar not null,
    alert_event varchar not null check (alert_event in ('fired', 'cleared')),
    as_of date not null,
    kpi varchar not null,
    kpi_value double,
    alert_condition varchar not null,
    recorded_at timestamptz not null,
    recorded_by varchar not null
);

create table if not exists alert_state (
    alert_rule varchar primary key,
    firing boolean not null,
    as_of date not null,
    signature varchar not null,
    updated_at timestamptz not null
);
