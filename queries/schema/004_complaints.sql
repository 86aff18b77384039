-- Complaints workbench: public-form fields, the compliance actions' columns, the audit-chain head
-- (one row every append updates, so concurrent appends conflict and retry instead of forking
-- the chain) and the rate-limit log of the public pages (kept in the database so the limit holds
-- across sessions and server restarts).

alter table complaints add column if not exists ticket varchar;
alter table complaints add column if not exists mobile varchar;
alter table complaints add column if not exists complainant_name varchar;
alter table complaints add column if not exists contact_time varchar;
alter table complaints add column if not exists plan_type varchar;
alter table complaints add column if not exists plan_amount decimal(18, 2);
alter table complaints add column if not exists plan_months integer;
alter table complaints add column if not exists public_resolution varchar;
alter table complaints add column if not exists assignee varchar;
alter table complaints add column if not exists substantiated boolean;
alter table complaints add column if not exists evidence varchar;
alter table complaints add column if not exists consent_at timestamptz;

create table if not exists audit_chain_head (
    chain_id integer primary key,
    last_event_id bigint not null,
    last_hash varchar not null
);

insert into audit_chain_head
select
    1 as chain_id,
    coalesce((select max(event_id) from complaint_events), 0) as last_event_id,
    coalesce(
        (select hash from complaint_events order by event_id desc limit 1),
        '0000000000000000000000000000000000000000000000000000000000000000'
    ) as last_hash
where not exists (select 1 from audit_chain_head);

create table if not exists rate_limit_hits (
    bucket varchar not null,
    client_hash varchar not null,
    hit_at timestamptz not null
);

create unique index if not exists complaint_events_event_id on complaint_events (event_id);
