-- Kept rate by plan type and segment, for plans agreed in [start, end) on loans of the chosen product,
-- region and risk grade. segment: bucket (the loan's bucket at the month-end before agreed_on;
-- 'unknown' when it had no snapshot there), product, region, risk_grade ('unknown' when not given) or
-- agreed_month (YYYY-MM). Per plan type and segment value: plans; instalments due by the clock (grace
-- ended) and kept, and kept_rate = kept / due; plans active, completed (every instalment kept), broken
-- (two or more missed; a one-instalment plan when it is missed) and cancelled. Same rules and clock as repayment_plan_outcomes.
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
-- param: segment text = bucket in bucket|product|region|risk_grade|agreed_month
with

clock as (
    select
        least(
            now(),
            greatest(
                coalesce((select max(paid_at) from payments), '-infinity'::timestamptz),
                coalesce((select (max(as_of) + 1)::timestamptz from book_flows), '-infinity'::timestamptz)
            )
        ) as as_of_at
),

scope as (
    select
        plan_id,
        plan_type,
        status,
        instalments,
        case $segment
            when 'bucket' then coalesce(bucket_before, 'unknown')
            when 'product' then product
            when 'region' then coalesce(region, 'unknown')
            when 'risk_grade' then coalesce(risk_grade, 'unknown')
            else strftime(agreed_on, '%Y-%m')
        end as segment
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
        scope.segment,
        scope.status,
        scope.instalments,
        count(*) filter (where instalments.closes_at <= clock.as_of_at) as due,
        count(*) filter (where instalments.closes_at <= clock.as_of_at and instalments.is_kept) as kept,
        count(*) filter (where instalments.closes_at <= clock.as_of_at and not instalments.is_kept) as missed,
        bool_and(instalments.is_kept) as all_kept
    from scope
    inner join repayment_plan_instalments as instalments on scope.plan_id = instalments.plan_id
    cross join clock
    group by scope.plan_id, scope.plan_type, scope.segment, scope.status, scope.instalments
),

plan_status as (
    select
        plan_type,
        segment,
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

final as (
    select
        plan_type,
        segment,
        count(*) as plans,
        sum(due)::bigint as instalments_due,
        sum(kept)::bigint as instalments_kept,
        sum(kept) / nullif(sum(due), 0) as kept_rate,
        count(*) filter (where tracked_status = 'active') as active,
        count(*) filter (where tracked_status = 'completed') as completed,
        count(*) filter (where tracked_status = 'broken') as broken,
        count(*) filter (where tracked_status = 'cancelled') as cancelled
    from plan_status
    group by plan_type, segment
)

select * from final
order by plan_type, segment
