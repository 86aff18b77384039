-- Agent or agency scorecard over a period, with the measures of channel_effectiveness grouped by
-- collector instead of channel (by = agent: agent_id, contacts without an agent are left out;
-- by = agency: agency_id, an empty agency means in-house and shows as `in_house`).
-- Payments go to the last reaching contact whatever its collector, so a payment whose last reaching
-- contact was automated (no agent) is credited to no agent. Complaints count when they name the
-- agent or agency.
-- param: by text = agent in agent|agency
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

loans_in_scope as (
    select loan_id
    from loans
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

scoped_contacts as not materialized (
    -- two branches so that an unfiltered call never pays for the semi-join with loans
    select
        contact_id,
        loan_id,
        contact_at,
        case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id,
        outcome,
        ptp_amount,
        ptp_due_on,
        cost
    from contacts
    where $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select
        contact_id,
        loan_id,
        contact_at,
        case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id,
        outcome,
        ptp_amount,
        ptp_due_on,
        cost
    from contacts
    where
        not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

scoped_payments as not materialized (
    select
        payment_id,
        loan_id,
        paid_at,
        amount
    from payments
    where $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select
        payment_id,
        loan_id,
        paid_at,
        amount
    from payments
    where
        not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

period_contacts as not materialized (
    select
        contact_id,
        loan_id,
        contact_at,
        collector_id,
        ptp_amount,
        ptp_due_on,
        cost,
        outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused') as is_reached,
        outcome in ('rpc', 'ptp', 'refused') as is_rpc,
        outcome = 'ptp' as is_ptp
    from scoped_contacts
    where
        ($start::date is null or contact_at >= $start::date::timestamptz)
        and ($end::date is null or contact_at < $end::date::timestamptz)
),

reaching_contacts as (
    select
        loan_id,
        contact_at,
        collector_id
    from scoped_contacts
    where
        outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused')
        -- only contacts up to 7 days before the period can take a payment in it
        and ($start::date is null or contact_at >= $start::date::timestamptz - interval 7 day)
        and ($end::date is null or contact_at < $end::date::timestamptz)
),

period_payments as (
    select
        payment_id,
        loan_id,
        paid_at,
        amount
    from scoped_payments
    where
        ($start::date is null or paid_at >= $start::date::timestamptz)
        and ($end::date is null or paid_at < $end::date::timestamptz)
),

last_reaching_contact as (
    -- a range join on the loan, then the latest contact per payment: cheaper than an asof join here
    -- because it never sorts the whole contact log
    select
        period_payments.payment_id,
        any_value(period_payments.amount) as amount,
        arg_max_null(reaching_contacts.collector_id, reaching_contacts.contact_at) as collector_id
    from period_payments
    inner join reaching_contacts
        on
            period_payments.loan_id = reaching_contacts.loan_id
            and reaching_contacts.contact_at <= period_payments.paid_at
            and reaching_contacts.contact_at >= period_payments.paid_at - interval 7 day
    group by period_payments.payment_id
),

recovered as (
    select
        collector_id,
        sum(amount) as recovered_amount
    from last_reaching_contact
    where collector_id is not null
    group by collector_id
),

ptp_outcomes as (
    select
        period_contacts.contact_id,
        period_contacts.collector_id,
        coalesce(sum(payments.amount), 0) >= coalesce(period_contacts.ptp_amount, 0.01) as is_kept
    from period_contacts
    left join scoped_payments as payments
        on
            period_contacts.loan_id = payments.loan_id
            and payments.paid_at >= period_contacts.contact_at
            and payments.paid_at < (coalesce(period_contacts.ptp_due_on, period_contacts.contact_at::date) + 4)::timestamptz
    where period_contacts.is_ptp
    group by period_contacts.contact_id, period_contacts.collector_id, period_contacts.ptp_amount
),

ptp_kept as (
    select
        collector_id,
        count(*) as ptps,
        count(*) filter (where is_kept) as kept
    from ptp_outcomes
    group by collector_id
),

collector_complaints as (
    select
        case when $by = 'agent' then agent_id else coalesce(nullif(agency_id, ''), 'in_house') end as collector_id,
        count(*) as complaints
    from complaints
    where
        ($by = 'agent' and agent_id is not null or $by = 'agency' and agency_id is not null)
        and ($start::date is null or received_at >= $start::date::timestamptz)
        and ($end::date is null or received_at < $end::date::timestamptz)
        -- a complaint without a loan only counts when no loan filter is set
        and (
            ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
            or loan_id in (select loan_id from loans_in_scope)
        )
    group by collector_id
),

attempts as (
    select
        collector_id,
        count(*) as attempts,
        count(*) filter (where is_reached) as reached,
        count(*) filter (where is_rpc) as rpcs,
        count(*) filter (where is_ptp) as ptps,
        sum(cost) as cost
    from period_contacts
    where collector_id is not null
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
