-- Delinquency funnel for month-end as_of: the loans with DPD >= 1 at as_of, followed through the
-- window (as_of, next month-end], counted at each stage they reach within the window.
-- Stages always appear in order: delinquent, attempted, reached, rpc, ptp, paid, cured.
-- param: as_of date
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

window_bounds as (
    select
        $as_of::date as as_of,
        last_day($as_of::date + interval 1 month) as next_as_of,
        ($as_of::date + 1)::timestamptz as opens_at,
        (last_day($as_of::date + interval 1 month) + 1)::timestamptz as closes_at
),

cohort as (
    -- two branches so that an unfiltered call never pays for the semi-join with loans
    select loan_id
    from snapshots
    where as_of = $as_of::date and dpd >= 1 and $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select loan_id
    from snapshots
    where
        as_of = $as_of::date
        and dpd >= 1
        and not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

window_contacts as (
    select
        contacts.loan_id,
        max(1) as is_attempted,
        max(case when contacts.outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused') then 1 else 0 end)
            as is_reached,
        max(case when contacts.outcome in ('rpc', 'ptp', 'refused') then 1 else 0 end) as is_rpc,
        max(case when contacts.outcome = 'ptp' then 1 else 0 end) as is_ptp
    from contacts, window_bounds
    where
        contacts.contact_at >= window_bounds.opens_at
        and contacts.contact_at < window_bounds.closes_at
        and contacts.loan_id in (select loan_id from cohort)
    group by contacts.loan_id
),

window_payments as (
    select distinct payments.loan_id
    from payments, window_bounds
    where
        payments.paid_at >= window_bounds.opens_at
        and payments.paid_at < window_bounds.closes_at
        and payments.loan_id in (select loan_id from cohort)
),

cured as (
    select snapshots.loan_id
    from snapshots, window_bounds
    where
        snapshots.as_of = window_bounds.next_as_of
        and snapshots.dpd = 0
        and snapshots.loan_id in (select loan_id from cohort)
),

stage_counts as (
    select
        (select count(*) from cohort) as delinquent,
        coalesce(sum(is_attempted), 0) as attempted,
        coalesce(sum(is_reached), 0) as reached,
        coalesce(sum(is_rpc), 0) as rpc,
        coalesce(sum(is_ptp), 0) as ptp,
        (select count(*) from window_payments) as paid,
        (select count(*) from cured) as cured
    from window_contacts
),

stages as (
    unpivot stage_counts
    on delinquent, attempted, reached, rpc, ptp, paid, cured
    into name stage value loans
),

final as (
    select
        stages.stage,
        stages.loans::bigint as loans,
        coalesce(stages.loans / nullif(stage_counts.delinquent, 0), 0.0)::double as share_of_delinquent
    from stages, stage_counts
)

select * from final
order by list_position(['delinquent', 'attempted', 'reached', 'rpc', 'ptp', 'paid', 'cured'], stage)
