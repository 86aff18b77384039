-- Month-level rollup of the book: per month-end, product, region and risk grade, the loans in each
-- DPD bucket (0 = M0 ... 7 = M6+) with their outstanding principal and overdue amount, split by the
-- bucket each loan is in at the next month-end (8 = missing from that snapshot: closed; null when the
-- next month-end is not in the data), with next_outstanding: the same loans' outstanding principal at
-- that next month-end (0 when closed), so that balance roll rates (roll_forecast) need no self-join.
-- delinquency_buckets, roll_rates, overview_kpis and roll_forecast read it instead of self-joining the
-- snapshots on every view. Rebuilt whole when loans or snapshots change.
-- derived: reads loans, snapshots
with

bucketed as (
    select
        loan_id,
        as_of,
        outstanding_principal,
        overdue_amount,
        cast(case
            when dpd = 0 then 0
            when dpd <= 30 then 1
            when dpd <= 60 then 2
            when dpd <= 90 then 3
            when dpd <= 120 then 4
            when dpd <= 150 then 5
            when dpd <= 180 then 6
            else 7
        end as tinyint) as bucket_no
    from snapshots
),

month_ends as (
    select distinct as_of from snapshots
),

with_next as (
    select
        bucketed.loan_id,
        bucketed.as_of,
        bucketed.outstanding_principal,
        bucketed.overdue_amount,
        bucketed.bucket_no,
        next_month.as_of as next_as_of
    from bucketed
    left join month_ends as next_month on next_month.as_of = last_day(bucketed.as_of + interval 1 month)
),

flows as (
    select
        with_next.as_of,
        with_next.loan_id,
        with_next.outstanding_principal,
        with_next.overdue_amount,
        with_next.bucket_no,
        case
            when with_next.next_as_of is null then null
            else coalesce(next_snap.bucket_no, 8)
        end::tinyint as next_no,
        next_snap.outstanding_principal as next_outstanding
    from with_next
    left join bucketed as next_snap
        on
            with_next.loan_id = next_snap.loan_id
            and with_next.next_as_of = next_snap.as_of
)

select
    flows.as_of,
    loans.product,
    loans.region,
    loans.risk_grade,
    flows.bucket_no,
    flows.next_no,
    count(*)::bigint as loans,
    sum(flows.outstanding_principal)::decimal(18, 2) as outstanding,
    sum(flows.overdue_amount)::decimal(18, 2) as overdue_amount,
    coalesce(sum(flows.next_outstanding), 0)::decimal(18, 2) as next_outstanding
from flows
-- a snapshot of a loan missing from loans cannot pass a product/region/grade filter, but is in the book
left join loans on flows.loan_id = loans.loan_id
group by all
