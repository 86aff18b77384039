-- Roll rates: of the loans in each bucket at month-end t, the share in each bucket at the next
-- month-end t+1; a loan missing from the t+1 snapshot goes to `closed`. Shares of each (t, bucket) sum to 1.
-- Buckets are carried as small integers through the self-join (0 = M0 ... 7 = M6+, 8 = closed) and
-- named only after aggregation: the join is the whole cost at scale and narrow rows keep it fast.
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
    select loan_id, as_of, dpd from snapshots
    where $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select loan_id, as_of, dpd from snapshots
    where
        not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

bucketed as (
    select
        loan_id,
        as_of,
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
    from scoped_snapshots
),

month_ends as (
    select distinct as_of from bucketed
),

month_pairs as (
    select
        this_month.as_of,
        next_month.as_of as next_as_of
    from month_ends as this_month
    inner join month_ends as next_month
        on next_month.as_of = last_day(this_month.as_of + interval 1 month)
    where
        ($start::date is null or this_month.as_of >= $start::date)
        and ($end::date is null or this_month.as_of < $end::date)
),

transitions as (
    select
        month_pairs.as_of,
        from_snap.bucket_no as from_no,
        coalesce(to_snap.bucket_no, 8) as to_no
    from bucketed as from_snap
    inner join month_pairs on from_snap.as_of = month_pairs.as_of
    left join bucketed as to_snap
        on
            from_snap.loan_id = to_snap.loan_id
            and to_snap.as_of = month_pairs.next_as_of
),

counted as (
    select
        as_of,
        from_no,
        to_no,
        count(*) as loans
    from transitions
    group by as_of, from_no, to_no
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
        loans,
        loans / sum(loans) over (partition by as_of, from_no) as share
    from counted
)

select * from final
order by as_of, from_bucket, to_bucket
