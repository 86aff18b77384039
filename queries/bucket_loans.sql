-- Drill-down of delinquency_buckets: the loans in DPD bucket `bucket` (M0 ... M6+) at month-end as_of,
-- in the loan scope, worst first (overdue amount, then outstanding principal, then loan_id). Its rows
-- count what that bar of delinquency_buckets counts: a snapshot whose loan is missing from loans is in
-- the book, listed with empty loan columns when no filter is set. An unknown bucket has no rows.
-- Reads the snapshots of one month-end (pruned by as_of) and the matching loans and customers.
-- param: as_of date
-- param: bucket text
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
-- param: row_limit int = null
with

month_end as (
    select
        loan_id,
        as_of,
        dpd,
        outstanding_principal,
        overdue_amount,
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
    where as_of = $as_of::date
),

scoped as (
    select
        month_end.as_of,
        month_end.loan_id,
        loans.customer_id,
        loans.product,
        loans.region,
        loans.risk_grade,
        month_end.bucket,
        month_end.dpd,
        month_end.outstanding_principal,
        month_end.overdue_amount
    from month_end
    left join loans on month_end.loan_id = loans.loan_id
    where
        month_end.bucket = $bucket
        and ($product::varchar [] is null or list_contains($product::varchar [], loans.product))
        and ($region::varchar [] is null or list_contains($region::varchar [], loans.region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], loans.risk_grade))
),

picked as (
    -- the page shows the first rows and fetches the rest only for a download (null: every row)
    select *
    from scoped
    order by overdue_amount desc, outstanding_principal desc, loan_id
    limit $row_limit
),

final as (
    select
        picked.as_of,
        picked.loan_id,
        picked.customer_id,
        customers.name as customer_name,
        customers.mobile,
        picked.product,
        picked.region,
        picked.risk_grade,
        picked.bucket,
        picked.dpd::bigint as dpd,
        picked.outstanding_principal::decimal(18, 2) as outstanding_principal,
        picked.overdue_amount::decimal(18, 2) as overdue_amount
    from picked
    left join customers on picked.customer_id = customers.customer_id
)

select * from final
order by overdue_amount desc, outstanding_principal desc, loan_id
