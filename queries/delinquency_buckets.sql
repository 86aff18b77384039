-- Loans, outstanding principal and overdue amount per month-end and DPD bucket.
-- Reads the month-level rollup book_flows (queries/derived/book_flows.sql), maintained on load.
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

scoped as (
    select
        as_of,
        bucket_no,
        loans,
        outstanding,
        overdue_amount
    from book_flows
    where
        ($start::date is null or as_of >= $start::date)
        and ($end::date is null or as_of < $end::date)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

final as (
    select
        as_of,
        case bucket_no
            when 0 then 'M0' when 1 then 'M1' when 2 then 'M2' when 3 then 'M3'
            when 4 then 'M4' when 5 then 'M5' when 6 then 'M6' else 'M6+'
        end as bucket,
        sum(loans)::bigint as loans,
        sum(outstanding)::decimal(18, 2) as outstanding,
        sum(overdue_amount)::decimal(18, 2) as overdue_amount
    from scoped
    group by as_of, bucket_no
)

select * from final
order by as_of, bucket
