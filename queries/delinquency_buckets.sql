-- Loans, outstanding principal and overdue amount per month-end and DPD bucket.
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

scoped_snapshots as (
    -- two branches so that an unfiltered call never pays for the semi-join with loans
    select * from snapshots
    where $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select * from snapshots
    where
        not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

snapshots_in_scope as (
    select
        as_of,
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
    from scoped_snapshots
    where
        ($start::date is null or as_of >= $start::date)
        and ($end::date is null or as_of < $end::date)
),

final as (
    select
        as_of,
        bucket,
        count(*) as loans,
        cast(sum(outstanding_principal) as decimal(18, 2)) as outstanding,
        cast(sum(overdue_amount) as decimal(18, 2)) as overdue_amount
    from snapshots_in_scope
    group by as_of, bucket
)

select * from final
order by as_of, bucket
