-- Complaint rates by calendar month (portal timezone) and segment: complaints received in the month
-- per 10,000 contacts made in the month and per 10,000 overdue accounts. The overdue accounts of a
-- month are the loans at DPD >= 1 at the month-end that opens it (the accounts collected during it);
-- for agency, agent, strategy and channel they are those of them with a contact of that segment in
-- the month. A complaint's agency and agent are its own; its strategy is that of the last contact on
-- its loan at or before it was received. Contacts without an agency are 'in_house'.
-- The contact log is read through facts kept on load (queries/derived/): contact_day_channel (contacts
-- per local day, channel, product and region) and contact_day_segment (per local day, agency, agent and
-- strategy) for the counts, book_flows (the loans at DPD >= 1 at each month-end) and
-- delinquent_month_segments (which segments' contacts each of them had on which days of the month
-- after) for the overdue accounts, complaint_last_contact for each complaint's strategy.
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
    -- contacts of the period per calendar month and segment: the loan's segments and the channel
    -- from the channel rollup, the contact's own agency, agent and strategy from the segment rollup
    select
        date_trunc('month', contact_on)::date as month,
        case $segment_kind::varchar
            when 'all' then 'all'
            when 'region' then coalesce(nullif(region, ''), 'none')
            when 'product' then product
            when 'channel' then channel
        end as segment,
        attempts
    from contact_day_channel
    where
        $segment_kind::varchar in ('all', 'region', 'product', 'channel')
        and ($start::date is null or contact_on >= $start::date)
        and ($end::date is null or contact_on < $end::date)
    union all
    select
        date_trunc('month', contact_on)::date as month,
        segment,
        attempts
    from contact_day_segment
    where
        kind = $segment_kind::varchar
        and ($start::date is null or contact_on >= $start::date)
        and ($end::date is null or contact_on < $end::date)
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

complaint_segments as (
    select
        period_complaints.month,
        case $segment_kind::varchar
            when 'all' then 'all'
            when 'agency' then coalesce(nullif(period_complaints.agency_id, ''), 'in_house')
            when 'agent' then coalesce(nullif(period_complaints.agent_id, ''), 'none')
            when 'strategy' then coalesce(nullif(complaint_last_contact.strategy, ''), 'none')
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then coalesce(loan_attributes.product, 'none')
            when 'channel' then coalesce(nullif(period_complaints.channel, ''), 'none')
        end as segment
    from period_complaints
    left join complaint_last_contact on period_complaints.complaint_id = complaint_last_contact.complaint_id
    left join loan_attributes on period_complaints.loan_id = loan_attributes.loan_id
),

period_months as (
    -- the calendar months the period touches (all of them when a bound is missing) and its first and
    -- last day within the first and the last of them
    select
        date_trunc('month', $start::date)::date as first_month,
        coalesce(dayofmonth($start::date), 1) as first_month_day,
        date_trunc('month', $end::date - 1)::date as last_month,
        coalesce(dayofmonth($end::date - 1), 31) as last_month_day
),

overdue_counts as (
    -- contact segments: the loans of the month's cohort with a contact of the segment on a day of the
    -- month inside the period (day_mask has bit d - 1 set for a contact on day d; one row per loan)
    select
        month,
        segment,
        count(*) as overdue_accounts
    from (
        select
            delinquent_month_segments.month,
            delinquent_month_segments.segment,
            delinquent_month_segments.day_mask,
            -- bits lo - 1 .. hi - 1: the period's days lo .. hi of this month
            (1::bigint << (
                case when delinquent_month_segments.month = period_months.last_month then period_months.last_month_day else 31 end
            )) - (1::bigint << (
                case when delinquent_month_segments.month = period_months.first_month then period_months.first_month_day else 1 end
                - 1
            )) as period_mask
        from delinquent_month_segments, period_months
        where
            delinquent_month_segments.kind = $segment_kind::varchar
            and (period_months.first_month is null or delinquent_month_segments.month >= period_months.first_month)
            and (period_months.last_month is null or delinquent_month_segments.month <= period_months.last_month)
    ) as candidates
    where (day_mask & period_mask) <> 0
    group by month, segment
    union all
    -- the whole cohort, or its loans of a region or product: the month-end book (one snapshot row per
    -- loan and month-end, DPD >= 1 is bucket 1 and up)
    select
        (book_flows.as_of + 1) as month,
        case $segment_kind::varchar
            when 'region' then coalesce(nullif(book_flows.region, ''), 'none')
            when 'product' then book_flows.product
            else 'all'
        end as segment,
        sum(book_flows.loans) as overdue_accounts
    from book_flows, period_months
    where
        $segment_kind::varchar in ('all', 'region', 'product')
        and book_flows.bucket_no >= 1
        and dayofmonth(book_flows.as_of + 1) = 1
        and (period_months.first_month is null or book_flows.as_of + 1 >= period_months.first_month)
        and (period_months.last_month is null or book_flows.as_of + 1 <= period_months.last_month)
    group by all
),

contact_counts as (
    select
        month,
        segment,
        sum(attempts) as contacts
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
