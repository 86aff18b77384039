-- Repayment plan outcomes per plan type, for plans agreed in [start, end) on loans of the chosen
-- product, region and risk grade (DOMAIN.md, Flexible repayment plans).
-- plans: every plan agreed in the period, cancelled ones included. instalments_due: instalments of
-- plans not cancelled whose grace (due date + 3 days) has ended by the clock; instalments_kept: those
-- of them kept (queries/derived/repayment_plan_instalments.sql); kept_rate = kept / due. completed:
-- every instalment kept; broken: two or more instalments missed by the clock (a deferral, which has
-- one instalment, when it is missed); a cancelled plan is neither. The clock is the latest payment or month-end in the data (never later than now), so a
-- book whose data stop at a month-end is judged at that month-end, not on today's date.
-- The 90-day cure comparison covers the plans whose loan was delinquent (M1 or later) at the
-- month-end before agreed_on and whose horizon (the first month-end at least 90 days after agreed_on)
-- is in the data: cured_within_90d counts those at DPD 0 at the horizon (a loan missing from that
-- snapshot is not cured), cure_rate_90d = cured / those plans. The control of each plan is the loans
-- in the same bucket, product and risk grade at that month-end with no plan (none agreed on or before
-- the next month-end; in the chosen regions), read at the same horizon month-end as the plan
-- (repayment_plan_control); plans whose cell has no control are left out of the comparison. control_cure_rate_90d is the control cure rate of
-- each plan's cell, averaged over the plans (direct standardisation), and uplift_pp =
-- 100 * (cure_rate_90d - control_cure_rate_90d). Plans are not randomly assigned: the uplift is an
-- association. repayment_plan_cure_cells gives the cells, for a confidence interval.
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

month_ends as (
    select max(as_of) as last_month_end from book_flows
),

clock as (
    select
        least(
            now(),
            greatest(
                coalesce((select max(paid_at) from payments), '-infinity'::timestamptz),
                coalesce((select (last_month_end + 1)::timestamptz from month_ends), '-infinity'::timestamptz)
            )
        ) as as_of_at
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

tracked as (
    select
        scope.plan_id,
        scope.plan_type,
        scope.status,
        scope.instalments,
        count(*) filter (where instalments.closes_at <= clock.as_of_at) as due,
        count(*) filter (where instalments.closes_at <= clock.as_of_at and instalments.is_kept) as kept,
        count(*) filter (where instalments.closes_at <= clock.as_of_at and not instalments.is_kept) as missed,
        bool_and(instalments.is_kept) as all_kept
    from scope
    inner join repayment_plan_instalments as instalments on scope.plan_id = instalments.plan_id
    cross join clock
    group by scope.plan_id, scope.plan_type, scope.status, scope.instalments
),

plan_status as (
    select
        plan_type,
        case when status = 'cancelled' then 0 else due end as due,
        case when status = 'cancelled' then 0 else kept end as kept,
        case
            when status = 'cancelled' then 'cancelled'
            when all_kept then 'completed'
            when missed >= least(2, instalments) then 'broken'
            else 'active'
        end as tracked_status
    from tracked
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

comparison as (
    select
        cells.plan_type,
        sum(cells.plans)::bigint as plans,
        sum(cells.cured)::bigint as cured,
        sum(cells.plans * control.control_cured / control.control_loans) as expected_cured
    from cells
    inner join control
        on
            cells.plan_type = control.plan_type
            and cells.month_end_before = control.month_end_before
            and cells.bucket_before = control.bucket_before
            and cells.product = control.product
            and cells.risk_grade is not distinct from control.risk_grade
            and cells.horizon_on = control.horizon_on
    group by cells.plan_type
),

totals as (
    select
        plan_type,
        count(*) as plans,
        sum(due)::bigint as instalments_due,
        sum(kept)::bigint as instalments_kept,
        count(*) filter (where tracked_status = 'completed') as completed,
        count(*) filter (where tracked_status = 'broken') as broken
    from plan_status
    group by plan_type
),

final as (
    select
        totals.plan_type,
        totals.plans,
        totals.instalments_due,
        totals.instalments_kept,
        totals.instalments_kept / nullif(totals.instalments_due, 0) as kept_rate,
        totals.completed,
        totals.broken,
        coalesce(comparison.cured, 0) as cured_within_90d,
        comparison.cured / comparison.plans as cure_rate_90d,
        comparison.expected_cured / comparison.plans as control_cure_rate_90d,
        100 * (comparison.cured - comparison.expected_cured) / comparison.plans as uplift_pp
    from totals
    left join comparison on totals.plan_type = comparison.plan_type
)

select * from final
order by plan_type
