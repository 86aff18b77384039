-- The cells of the 90-day cure comparison behind repayment_plan_outcomes, for a confidence interval
-- (portal/plans.py `compare`): per plan type, month-end before agreement, bucket, product, risk grade
-- and horizon month-end, the comparable plans and how many were cured at the horizon, and the control
-- loans (same cell, no plan agreed on or before the month-end after it, in the chosen regions) and how
-- many of them were cured at the same horizon. Same rules as repayment_plan_outcomes; cells without control loans are kept
-- with control_loans = 0 (the comparison leaves them out).
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

month_ends as (
    select max(as_of) as last_month_end from book_flows
),

scope as (
    select *
    from repayment_plan_cure
    where
        ($start::date is null or agreed_on >= $start::date)
        and ($end::date is null or agreed_on < $end::date)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

comparable as (
    select
        plan_type,
        month_end_before,
        bucket_before,
        product,
        risk_grade,
        horizon_on,
        horizon_months,
        coalesce(horizon_dpd = 0, false) as is_cured
    from scope
    where
        bucket_before is not null
        and bucket_before <> 'M0'
        and horizon_on <= (select last_month_end from month_ends)
),

cells as (
    select
        plan_type,
        month_end_before,
        bucket_before,
        product,
        risk_grade,
        horizon_on,
        horizon_months,
        count(*) as plans,
        count(*) filter (where is_cured) as cured
    from comparable
    group by all
),

control as (
    select
        cells.plan_type,
        cells.month_end_before,
        cells.bucket_before,
        cells.product,
        cells.risk_grade,
        cells.horizon_on,
        count(*) as control_loans,
        count(*) filter (
            where (case cells.horizon_months when 3 then k.dpd_3 when 4 then k.dpd_4 else k.dpd_5 end) = 0
        ) as control_cured
    from cells
    inner join repayment_plan_control as k
        on
            cells.month_end_before = k.as_of
            and cells.bucket_before = k.bucket
            and cells.product = k.product
            and cells.risk_grade is not distinct from k.risk_grade
    where
        k.is_plan_free
        and ($region::varchar [] is null or list_contains($region::varchar [], k.region))
    group by all
),

final as (
    select
        cells.plan_type,
        cells.month_end_before,
        cells.bucket_before as bucket,
        cells.product,
        cells.risk_grade,
        cells.horizon_on,
        cells.plans,
        cells.cured,
        coalesce(control.control_loans, 0) as control_loans,
        coalesce(control.control_cured, 0) as control_cured
    from cells
    left join control
        on
            cells.plan_type = control.plan_type
            and cells.month_end_before = control.month_end_before
            and cells.bucket_before = control.bucket_before
            and cells.product = control.product
            and cells.risk_grade is not distinct from control.risk_grade
            and cells.horizon_on = control.horizon_on
)

select * from final
order by plan_type, month_end_before, bucket, product, risk_grade nulls first, horizon_on
