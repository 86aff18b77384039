-- Inputs of one improvement action's measured effect: per calendar month (portal timezone) and group,
-- treated (the action's segment) or control (everyone else), the contacts made, right-party and ptp
-- contacts, complaints received, and the overdue accounts worked with how many cured.
-- Overdue accounts of a month are loans at DPD >= 1 at the month-end that opens it (optionally only
-- in the given buckets there); cured means DPD 0 at the month-end that closes it (null while that
-- month-end is not in the data). For agency, agent and strategy an account is treated when it had a
-- contact of the segment in the month and control when it had contacts but none of the segment;
-- for region and product the loan's own attribute decides. A complaint belongs to the segment of its
-- own agency or agent, of the last contact on its loan before it (strategy), or of its loan.
-- param: segment_kind text in agency|agent|strategy|region|product
-- param: segment_value text
-- param: start date = null
-- param: end date = null
-- param: bucket text[] = null
with

loan_attributes as (
    select
        loan_id,
        region,
        product
    from loans
),

month_ends as (
    select distinct as_of from snapshots
),

period_contacts as (
    select
        contacts.loan_id,
        date_trunc('month', contacts.contact_at)::date as month,
        contacts.outcome in ('rpc', 'ptp', 'refused') as is_rpc,
        contacts.outcome = 'ptp' as is_ptp,
        case $segment_kind::varchar
            when 'agency' then coalesce(nullif(contacts.agency_id, ''), 'in_house')
            when 'agent' then coalesce(nullif(contacts.agent_id, ''), 'none')
            when 'strategy' then coalesce(nullif(contacts.strategy, ''), 'none')
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then loan_attributes.product
        end = $segment_value::varchar as is_treated
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

complaint_groups as (
    select
        period_complaints.month,
        coalesce(case $segment_kind::varchar
            when 'agency' then coalesce(nullif(period_complaints.agency_id, ''), 'in_house')
            when 'agent' then coalesce(nullif(period_complaints.agent_id, ''), 'none')
            when 'strategy' then coalesce(nullif(complaint_strategy.strategy, ''), 'none')
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then loan_attributes.product
        end = $segment_value::varchar, false) as is_treated
    from period_complaints
    left join complaint_strategy on period_complaints.complaint_id = complaint_strategy.complaint_id
    left join loan_attributes on period_complaints.loan_id = loan_attributes.loan_id
),

overdue_cohort as (
    select
        loan_id,
        (as_of + 1)::date as month,
        last_day(as_of + 1) as closing_as_of
    from snapshots
    where
        dpd >= 1
        and (
            $bucket::varchar [] is null
            or list_contains(
                $bucket::varchar [],
                case
                    when dpd > 180 then 'M6+'
                    else 'M' || ((dpd - 1) // 30 + 1)::varchar
                end
            )
        )
),

contacted_cohort as (
    select
        overdue_cohort.loan_id,
        overdue_cohort.month,
        overdue_cohort.closing_as_of,
        bool_or(period_contacts.is_treated) as is_treated
    from overdue_cohort
    inner join period_contacts
        on
            overdue_cohort.loan_id = period_contacts.loan_id
            and overdue_cohort.month = period_contacts.month
    group by overdue_cohort.loan_id, overdue_cohort.month, overdue_cohort.closing_as_of
),

cohort_groups as (
    select
        loan_id,
        month,
        closing_as_of,
        is_treated
    from contacted_cohort
    where $segment_kind::varchar in ('agency', 'agent', 'strategy')
    union all
    select
        overdue_cohort.loan_id,
        overdue_cohort.month,
        overdue_cohort.closing_as_of,
        coalesce(case $segment_kind::varchar
            when 'region' then coalesce(nullif(loan_attributes.region, ''), 'none')
            when 'product' then loan_attributes.product
        end = $segment_value::varchar, false) as is_treated
    from overdue_cohort
    left join loan_attributes on overdue_cohort.loan_id = loan_attributes.loan_id
    where
        $segment_kind::varchar in ('region', 'product')
        and ($start::date is null or overdue_cohort.month >= date_trunc('month', $start::date)::date)
        and ($end::date is null or overdue_cohort.month < $end::date)
),

cohort_outcomes as (
    select
        cohort_groups.month,
        cohort_groups.is_treated,
        count(*) as overdue_accounts,
        case
            when bool_and(month_ends.as_of is not null)
                then count(*) filter (where closing.dpd = 0)
        end as cured_accounts
    from cohort_groups
    left join month_ends on cohort_groups.closing_as_of = month_ends.as_of
    left join snapshots as closing
        on
            cohort_groups.loan_id = closing.loan_id
            and cohort_groups.closing_as_of = closing.as_of
    group by cohort_groups.month, cohort_groups.is_treated
),

contact_counts as (
    select
        month,
        is_treated,
        count(*) as contacts,
        count(*) filter (where is_rpc) as rpc_contacts,
        count(*) filter (where is_ptp) as ptp_contacts
    from period_contacts
    group by month, is_treated
),

complaint_counts as (
    select
        month,
        is_treated,
        count(*) as complaints
    from complaint_groups
    group by month, is_treated
),

months as (
    select distinct month from contact_counts
    union
    select distinct month from complaint_counts
),

groups as (
    select
        months.month,
        flags.is_treated
    from months
    cross join (select unnest([true, false]) as is_treated) as flags
),

final as (
    select
        groups.month,
        case when groups.is_treated then 'treated' else 'control' end as group_name,
        coalesce(contact_counts.contacts, 0)::bigint as contacts,
        coalesce(contact_counts.rpc_contacts, 0)::bigint as rpc_contacts,
        coalesce(contact_counts.ptp_contacts, 0)::bigint as ptp_contacts,
        coalesce(complaint_counts.complaints, 0)::bigint as complaints,
        coalesce(cohort_outcomes.overdue_accounts, 0)::bigint as overdue_accounts,
        cohort_outcomes.cured_accounts::bigint as cured_accounts
    from groups
    left join contact_counts
        on groups.month = contact_counts.month and groups.is_treated = contact_counts.is_treated
    left join complaint_counts
        on groups.month = complaint_counts.month and groups.is_treated = complaint_counts.is_treated
    left join cohort_outcomes
        on groups.month = cohort_outcomes.month and groups.is_treated = cohort_outcomes.is_treated
)

select * from final
order by month, group_name desc
