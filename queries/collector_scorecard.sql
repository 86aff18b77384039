-- Agent or agency scorecard over a period, with the measures of channel_effectiveness grouped by
-- collector instead of channel (by = agent: agent_id, contacts without an agent are left out;
-- by = agency: agency_id, an empty agency means in-house and shows as `in_house`).
-- Payments go to the last reaching contact whatever its collector, so a payment whose last reaching
-- contact was automated (no agent) is credited to no agent. Complaints count when they name the
-- agent or agency. The contact log is read through facts kept on load (queries/derived/):
-- contact_day_collector (attempts and cost per local day, collector and loan segment),
-- payment_attribution and ptp_outcomes.
-- param: by text = agent in agent|agency
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

loans_in_scope as not materialized (
    select loan_id
    from loans
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

period_ptps as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id,
        is_kept
    from ptp_outcomes
    where
        ($start::date is null or contact_at >= $start::date::timestamptz)
        and ($end::date is null or contact_at < $end::date::timestamptz)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

attributed_payments as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id,
        amount
    from payment_attribution
    where
        contact_id is not null
        and ($start::date is null or paid_at >= $start::date::timestamptz)
        and ($end::date is null or paid_at < $end::date::timestamptz)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

recovered as (
    select
        collector_id,
        sum(amount) as recovered_amount
    from attributed_payments
    where collector_id is not null
    group by collector_id
),

ptp_kept as (
    select
        collector_id,
        count(*) as ptps,
        count(*) filter (where is_kept) as kept
    from period_ptps
    group by collector_id
),

collector_complaints as (
    select
        collector_id,
        count(*) as complaints
    from (
        -- a complaint without a loan only counts when no loan filter is set
        select case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id
        from complaints
        where
            $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
            and ($by = 'agent' and agent_id is not null or $by = 'agency' and agency_id is not null)
            and ($start::date is null or received_at >= $start::date::timestamptz)
            and ($end::date is null or received_at < $end::date::timestamptz)
        union all
        select case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id
        from complaints
        where
            not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
            and ($by = 'agent' and agent_id is not null or $by = 'agency' and agency_id is not null)
            and ($start::date is null or received_at >= $start::date::timestamptz)
            and ($end::date is null or received_at < $end::date::timestamptz)
            and loan_id in (select loan_id from loans_in_scope)
    ) as scoped
    group by collector_id
),

attempts as (
    -- from the day rollup: a period [start, end) of dates is exactly the days start .. end - 1
    select
        collector_id,
        sum(attempts)::bigint as attempts,
        sum(reached)::bigint as reached,
        sum(rpcs)::bigint as rpcs,
        sum(ptps)::bigint as ptps,
        -- the type one sum of decimal(18, 2) has on Spark: summing partial sums widens it there, and
        -- cost per yuan would round from fewer decimals than on DuckDB
        sum(cost)::decimal(28, 2) as cost
    from contact_day_collector
    where
        kind = $by
        and ($start::date is null or contact_on >= $start::date)
        and ($end::date is null or contact_on < $end::date)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
    group by collector_id
),

collectors as (
    select collector_id from attempts
    union
    select collector_id from recovered
    union
    select collector_id from collector_complaints
),

final as (
    select
        collectors.collector_id,
        coalesce(attempts.attempts, 0)::bigint as attempts,
        (attempts.reached / nullif(attempts.attempts, 0))::double as reach_rate,
        (attempts.rpcs / nullif(attempts.attempts, 0))::double as rpc_rate,
        (attempts.ptps / nullif(attempts.attempts, 0))::double as ptp_rate,
        (ptp_kept.kept / nullif(ptp_kept.ptps, 0))::double as ptp_kept_rate,
        coalesce(recovered.recovered_amount, 0)::decimal(18, 2) as recovered_amount,
        coalesce(attempts.cost, 0)::decimal(18, 2) as cost,
        round(attempts.cost / nullif(recovered.recovered_amount, 0), 4)::double as cost_per_yuan_recovered,
        coalesce(collector_complaints.complaints, 0)::bigint as complaints,
        (coalesce(collector_complaints.complaints, 0) * 10000.0 / nullif(attempts.attempts, 0))::double
            as complaints_per_10k_attempts
    from collectors
    left join attempts on collectors.collector_id = attempts.collector_id
    left join ptp_kept on collectors.collector_id = ptp_kept.collector_id
    left join recovered on collectors.collector_id = recovered.collector_id
    left join collector_complaints on collectors.collector_id = collector_complaints.collector_id
)

select * from final
order by collector_id
