-- Complaint rates by calendar month (portal timezone) and segment: complaints received in the month
-- per 10,000 contacts made in the month and per 10,000 overdue accounts. The overdue accounts of a
-- month are the loans at DPD >= 1 at the month-end that opens it (the accounts collected during it);
-- for agency, agent, strategy and channel they are those of them with a contact of that segment in
-- the month. A complaint's agency and agent are its own; its strategy is that of the last contact on
-- its loan at or before it was received. Contacts without an agency are 'in_house'.
-- param: start date = null
-- param: end date = null
-- param: segment_kind text = all in all|agency|agent|strategy|region|product|channel
with

loan_attributes as (
    select
        loan_id,
        region,
        product
    from loans
),

period_contacts as (
    select
        contacts.loan_id,
        contacts.contact_at,
        contacts.strategy,
        date_trunc('month', contacts.contact_at)::date as month,
        case $segment_kind::varchar
            when 'all' then 'all'
            when 'agency' then coalesce(nullif(contacts.agency_id, ''), 'in_house')
            when 'agent' then coalesce(nullif(contacts.agent_id, ''), 'none')
            when 'strategy' then coalesce(nullif(contacts.strategy, ''), 'none')
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then loan_attributes.product
            when 'channel' then contacts.channel
        end as segment
    from contacts
    left join loan_attributes on contacts.loan_id = loan_attributes.loan_id
    where
        ($start::date is null or contacts.contact_at >= $start::date::timestamptz)
        and ($end::date is null or contacts.contact_at < $end::date::timestamptz)
),

period_complaints as (
    select
        complaint_id,
        received_at,
        loan_id,
        agency_id,
        agent_id,
        channel,
        date_trunc('month', received_at)::date as month
    from complaints
    where
        ($start::date is null or received_at >= $start::date::timestamptz)
        and ($end::date is null or received_at < $end::date::timestamptz)
),

strategy_contacts as (
    select
        loan_id,
        contact_at,
        strategy
    from contacts
    where loan_id in (select loan_id from period_complaints)
),

complaint_strategy as (
    select
        period_complaints.complaint_id,
        strategy_contacts.strategy
    from period_complaints
    asof inner join strategy_contacts
        on
            period_complaints.loan_id = strategy_contacts.loan_id
            and period_complaints.received_at >= strategy_contacts.contact_at
),

complaint_segments as (
    select
        period_complaints.month,
        case $segment_kind::varchar
            when 'all' then 'all'
            when 'agency' then coalesce(nullif(period_complaints.agency_id, ''), 'in_house')
            when 'agent' then coalesce(nullif(period_complaints.agent_id, ''), 'none')
            when 'strategy' then coalesce(nullif(complaint_strategy.strategy, ''), 'none')
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then coalesce(loan_attributes.product, 'none')
            when 'channel' then coalesce(nullif(period_complaints.channel, ''), 'none')
        end as segment
    from period_complaints
    left join complaint_strategy on period_complaints.complaint_id = complaint_strategy.complaint_id
    left join loan_attributes on period_complaints.loan_id = loan_attributes.loan_id
),

overdue_cohort as (
    select
        loan_id,
        (as_of + 1)::date as month
    from snapshots
    where dpd >= 1
),

overdue_segments as (
    select distinct
        overdue_cohort.month,
        overdue_cohort.loan_id,
        period_contacts.segment
    from overdue_cohort
    inner join period_contacts
        on
            overdue_cohort.loan_id = period_contacts.loan_id
            and overdue_cohort.month = period_contacts.month
    where $segment_kind::varchar in ('agency', 'agent', 'strategy', 'channel')
    union all
    select
        overdue_cohort.month,
        overdue_cohort.loan_id,
        case $segment_kind::varchar
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then loan_attributes.product
            else 'all'
        end as segment
    from overdue_cohort
    left join loan_attributes on overdue_cohort.loan_id = loan_attributes.loan_id
    where $segment_kind::varchar in ('all', 'region', 'product')
),

contact_counts as (
    select
        month,
        segment,
        count(*) as contacts
    from period_contacts
    group by month, segment
),

complaint_counts as (
    select
        month,
        segment,
        count(*) as complaints
    from complaint_segments
    group by month, segment
),

overdue_counts as (
    select
        month,
        segment,
        count(distinct loan_id) as overdue_accounts
    from overdue_segments
    group by month, segment
),

month_segments as (
    select month, segment from contact_counts
    union
    select month, segment from complaint_counts
),

final as (
    select
        month_segments.month,
        $segment_kind::varchar as segment_kind,
        month_segments.segment,
        coalesce(contact_counts.contacts, 0)::bigint as contacts,
        coalesce(overdue_counts.overdue_accounts, 0)::bigint as overdue_accounts,
        coalesce(complaint_counts.complaints, 0)::bigint as complaints,
        (coalesce(complaint_counts.complaints, 0) * 10000.0 / nullif(contact_counts.contacts, 0))::double
            as complaints_per_10k_contacts,
        (coalesce(complaint_counts.complaints, 0) * 10000.0 / nullif(overdue_counts.overdue_accounts, 0))::double
            as complaints_per_10k_overdue
    from month_segments
    left join contact_counts
        on month_segments.month = contact_counts.month and month_segments.segment = contact_counts.segment
    left join complaint_counts
        on month_segments.month = complaint_counts.month and month_segments.segment = complaint_counts.segment
    left join overdue_counts
        on month_segments.month = overdue_counts.month and month_segments.segment = overdue_counts.segment
)

select * from final
order by month, segment
