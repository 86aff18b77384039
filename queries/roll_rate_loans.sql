-- Drill-down of roll_rates: the loans in bucket from_bucket at month-end as_of that are in bucket
-- to_bucket at the next month-end (`closed` when missing from that snapshot), in the loan scope, by
-- loan_id. As in roll_rates, a month-end counts only when the next month-end has loans in scope
-- (checked on the rollup book_flows), so its rows count what that cell of roll_rates counts.
-- Reads the snapshots of two month-ends (pruned by as_of) and the matching loans and customers.
-- param: as_of date
-- param: from_bucket text
-- param: to_bucket text
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
-- param: row_limit int = null
with

next_month as (
    select last_day($as_of::date + interval 1 month) as next_as_of
),

next_in_scope as (
    select count(*) > 0 as has_loans
    from book_flows
    where
        as_of = last_day($as_of::date + interval 1 month)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

bucketed as (
    select
        loan_id,
        as_of,
        dpd,
        outstanding_principal,
        case
            when dpd = 0 then 'M0'
            when dpd <= 30 then 'M1'
            when dpd <= 60 then 'M2'
            when dpd <= 90 then 'M3'
            when dpd <= 120 then 'M4'
            when dpd <= 150 then 'M5'
            when dpd <= 180 then 'M6'
            else 'M6+'
        end as bucket
    from snapshots
    where as_of in ($as_of::date, last_day($as_of::date + interval 1 month))
),

flows as (
    select
        this_month.as_of,
        next_month.next_as_of,
        this_month.loan_id,
        loans.customer_id,
        loans.product,
        loans.region,
        loans.risk_grade,
        this_month.bucket as from_bucket,
        coalesce(next_snap.bucket, 'closed') as to_bucket,
        this_month.dpd,
        next_snap.dpd as next_dpd,
        this_month.outstanding_principal,
        next_snap.outstanding_principal as next_outstanding_principal
    from bucketed as this_month
    cross join next_month
    left join bucketed as next_snap
        on this_month.loan_id = next_snap.loan_id and next_snap.as_of = next_month.next_as_of
    left join loans on this_month.loan_id = loans.loan_id
    where
        this_month.as_of = $as_of::date
        and (select has_loans from next_in_scope)
        and ($product::varchar [] is null or list_contains($product::varchar [], loans.product))
        and ($region::varchar [] is null or list_contains($region::varchar [], loans.region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], loans.risk_grade))
),

picked as (
    -- the page shows the first rows and fetches the rest only for a download (null: every row)
    select *
    from flows
    where from_bucket = $from_bucket and to_bucket = $to_bucket
    order by loan_id
    limit $row_limit
),

final as (
    select
        picked.as_of,
        picked.next_as_of,
        picked.loan_id,
        picked.customer_id,
        customers.name as customer_name,
        customers.mobile,
        picked.product,
        picked.region,
        picked.risk_grade,
        picked.from_bucket,
        picked.to_bucket,
        picked.dpd::bigint as dpd,
        picked.next_dpd::bigint as next_dpd,
        picked.outstanding_principal::decimal(18, 2) as outstanding_principal,
        picked.next_outstanding_principal::decimal(18, 2) as next_outstanding_principal
    from picked
    left join customers on picked.customer_id = customers.customer_id
)

select * from final
order by loan_id
