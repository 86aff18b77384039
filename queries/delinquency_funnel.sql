-- Delinquency funnel for month-end as_of: the loans with DPD >= 1 at as_of, followed through the
-- window (as_of, next month-end], counted at each stage they reach within the window.
-- Stages always appear in order: delinquent, attempted, reached, rpc, ptp, paid, cured.
-- Each delinquent loan-month's window is kept on load in the derived table delinquent_month_activity
-- (queries/derived/): one row per cohort loan.
-- param: as_of date
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

cohort as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        is_attempted,
        is_reached,
        is_rpc,
        is_ptp,
        paid_amount is not null as is_paid,
        coalesce(next_dpd = 0, false) as is_cured
    from delinquent_month_activity
    where
        as_of = $as_of::date
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

stage_counts as (
    select
        count(*) as delinquent,
        count(*) filter (where is_attempted) as attempted,
        count(*) filter (where is_reached) as reached,
        count(*) filter (where is_rpc) as rpc,
        count(*) filter (where is_ptp) as ptp,
        count(*) filter (where is_paid) as paid,
        count(*) filter (where is_cured) as cured
    from cohort
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
