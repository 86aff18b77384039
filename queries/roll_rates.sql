-- Roll rates: of the loans in each bucket at month-end t, the share in each bucket at the next
-- month-end t+1; a loan missing from the t+1 snapshot goes to `closed`. Shares of each (t, bucket) sum to 1.
-- Reads the month-level rollup book_flows (queries/derived/book_flows.sql), maintained on load, which
-- carries each loan's bucket at t and at t+1 (0 = M0 ... 7 = M6+, 8 = closed) as small integers.
-- A month-end counts only when the next month-end has loans in scope, as when computed from snapshots.
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
        next_no,
        loans
    from book_flows
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

month_ends as (
    select distinct as_of from scoped
),

counted as (
    select
        scoped.as_of,
        scoped.bucket_no as from_no,
        scoped.next_no as to_no,
        sum(scoped.loans) as loans
    from scoped
    semi join month_ends on month_ends.as_of = last_day(scoped.as_of + interval 1 month)
    where
        scoped.next_no is not null
        and ($start::date is null or scoped.as_of >= $start::date)
        and ($end::date is null or scoped.as_of < $end::date)
    group by scoped.as_of, scoped.bucket_no, scoped.next_no
),

final as (
    select
        as_of,
        case from_no
            when 0 then 'M0' when 1 then 'M1' when 2 then 'M2' when 3 then 'M3'
            when 4 then 'M4' when 5 then 'M5' when 6 then 'M6' else 'M6+'
        end as from_bucket,
        case to_no
            when 0 then 'M0' when 1 then 'M1' when 2 then 'M2' when 3 then 'M3'
            when 4 then 'M4' when 5 then 'M5' when 6 then 'M6' when 7 then 'M6+' else 'closed'
        end as to_bucket,
        loans::bigint as loans,
        loans / sum(loans) over (partition by as_of, from_no) as share
    from counted
)

select * from final
order by as_of, from_bucket, to_bucket
