-- Core schema: the six contract datasets, the upload registry, the quarantine,
-- the complaint audit trail and improvement actions.
-- Fact tables carry no primary-key index: keys are enforced by the single load path
-- (delete-then-insert in one transaction), which keeps bulk loads fast at 20M+ rows.

create sequence if not exists upload_id_seq start 1;

create table if not exists uploads (
    upload_id bigint primary key,
    dataset varchar not null,
    file_name varchar,
    file_sha256 varchar,
    file_bytes bigint,
    file_format varchar,
    uploaded_by varchar,
    uploaded_at timestamptz not null,
    rows_total bigint not null default 0,
    rows_accepted bigint not null default 0,
    rows_rejected bigint not null default 0,
    status varchar not null,
    is_strict boolean not null default false,
    replaces_upload_id bigint,
    message varchar
);

create table if not exists customers (
    customer_id varchar not null,
    name varchar,
    mobile varchar,
    id_number varchar,
    province varchar,
    timezone varchar not null default 'Asia/Shanghai',
    opted_out_channels varchar,
    upload_id bigint
);

create table if not exists loans (
    loan_id varchar not null,
    customer_id varchar not null,
    product varchar not null,
    principal decimal(18, 2) not null,
    annual_rate decimal(8, 6) not null,
    term_months integer not null,
    disbursed_on date not null,
    region varchar,
    risk_grade varchar,
    upload_id bigint
);

create table if not exists snapshots (
    loan_id varchar not null,
    as_of date not null,
    dpd integer not null,
    outstanding_principal decimal(18, 2) not null,
    overdue_amount decimal(18, 2) not null,
    upload_id bigint
);

create table if not exists contacts (
    contact_id varchar not null,
    loan_id varchar not null,
    contact_at timestamptz not null,
    channel varchar not null,
    party varchar not null,
    outcome varchar not null,
    agent_id varchar,
    agency_id varchar,
    strategy varchar,
    ptp_amount decimal(18, 2),
    ptp_due_on date,
    cost decimal(18, 2) not null default 0,
    collectors integer,
    duration_s integer,
    upload_id bigint
);

create table if not exists payments (
    payment_id varchar not null,
    loan_id varchar not null,
    paid_at timestamptz not null,
    amount decimal(18, 2) not null,
    upload_id bigint
);

create table if not exists complaints (
    complaint_id varchar not null,
    received_at timestamptz not null,
    source varchar not null,
    customer_id varchar,
    loan_id varchar,
    issue varchar not null,
    sub_issue varchar,
    channel varchar,
    agent_id varchar,
    agency_id varchar,
    narrative varchar,
    status varchar not null default 'new',
    resolved_at timestamptz,
    extension_days integer not null default 0,
    extension_reason varchar,
    resolution varchar,
    root_cause varchar,
    issue_verbatim varchar,
    sub_issue_verbatim varchar,
    timely_response varchar,
    upload_id bigint
);

create table if not exists quarantine (
    upload_id bigint not null,
    dataset varchar not null,
    row_number bigint not null,
    column_name varchar,
    reason varchar not null,
    raw_row varchar not null,
    quarantined_at timestamptz not null
);

create table if not exists complaint_events (
    event_id bigint not null,
    complaint_id varchar not null,
    actor varchar not null,
    action varchar not null,
    field varchar,
    from_value varchar,
    to_value varchar,
    note varchar,
    event_at timestamptz not null,
    prev_hash varchar not null,
    hash varchar not null
);

create table if not exists improvement_actions (
    action_id varchar not null,
    title varchar not null,
    root_cause varchar,
    owner varchar,
    start_on date not null,
    change_made varchar,
    target_kpi varchar not null,
    target_value double,
    status varchar not null default 'planned',
    segment_kind varchar,
    segment_value varchar,
    created_by varchar,
    created_at timestamptz not null
);
