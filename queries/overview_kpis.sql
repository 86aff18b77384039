-- The Overview tiles for month-end as_of and the month-end before it (one row each, when snapshotted).
-- A month is the window (previous month-end, month-end]. Per month-end M: overdue balance; delinquency
-- rate by amount (overdue_amount of loans at DPD >= 1 / outstanding principal of all loans) and by
-- count; the M1->M2 roll rate and the cure rate from the previous month-end to M (a loan missing at M
-- is closed: in the denominator, in neither numerator); payments in the month; contact cost in the month
-- and per yuan recovered; complaints received in the month per 10,000 loans at DPD >= 1 at M; and of
-- the complaints whose deadline falls in the month, the share resolved at or before it (the deadline
-- is received_at + 15 days, + extension_days when an extension reason is recorded).
-- param: as_of date
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

months as (
    select
        as_of,
        last_day(as_of - interval 1 month) as prev_as_of,
        (last_day(as_of - interval 1 month) + 1)::timestamptz as opens_at,
        (as_of + 1)::timestamptz as closes_at
    from (
        select $as_of::date as as_of
        union all
        select last_day($as_of::date - interval 1 month) as as_of
    )
),

scoped_flows as (
    -- the month-level rollup book_flows (queries/derived/book_flows.sql), maintained on load: loans per
    -- bucket at a month-end and per bucket at the next month-end (8 = missing there: closed)
    select
        as_of,
        bucket_no,
        next_no,
        loans,
        outstanding,
        overdue_amount
    from book_flows
    where
        as_of in (
            $as_of::date,
            last_day($as_of::date - interval 1 month),
            last_day($as_of::date - interval 2 month)
        )
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

scoped_money as (
    -- the month-level rollup book_money (queries/derived/book_money.sql), maintained on load:
    -- payments and contact cost per calendar month, product, region and risk grade
    select
        month_end,
        recovered_amount,
        collection_cost
    from book_money
    where
        month_end in ($as_of::date, last_day($as_of::date - interval 1 month))
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

book as (
    select
        as_of,
        sum(loans) as loans,
        sum(outstanding) as outstanding,
        sum(overdue_amount) filter (where bucket_no >= 1) as overdue_balance,
        sum(loans) filter (where bucket_no >= 1) as delinquent_loans
    from scoped_flows
    group by as_of
),

transitions as (
    -- only loans delinquent at the previous month-end enter either rate; a loan missing at M (closed)
    -- is in the denominators and in neither numerator
    select
        months.as_of,
        coalesce(sum(prev_flows.loans) filter (where prev_flows.bucket_no = 1), 0) as m1_prev_loans,
        coalesce(sum(prev_flows.loans) filter (where prev_flows.bucket_no = 1 and prev_flows.next_no = 2), 0)
            as rolled_m1_m2,
        coalesce(sum(prev_flows.loans), 0) as delinquent_prev_loans,
        coalesce(sum(prev_flows.loans) filter (where prev_flows.next_no = 0), 0) as cured
    from months
    inner join scoped_flows as prev_flows
        on months.prev_as_of = prev_flows.as_of and prev_flows.bucket_no >= 1 and prev_flows.next_no is not null
    group by months.as_of
),

money as (
    -- a payment or contact on local date d belongs to the month ending last_day(d)
    select
        month_end as as_of,
        sum(recovered_amount) as recovered_amount,
        sum(collection_cost) as collection_cost
    from scoped_money
    group by month_end
),

scoped_complaints as (
    select
        received_at,
        resolved_at,
        received_at + to_days(
            15 + case when coalesce(trim(extension_reason), '') <> '' then extension_days else 0 end
        ) as due_at
    from complaints
    where $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select
        received_at,
        resolved_at,
        received_at + to_days(
            15 + case when coalesce(trim(extension_reason), '') <> '' then extension_days else 0 end
        ) as due_at
    from complaints
    where
        not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

complaint_counts as (
    select
        months.as_of,
        count(*) filter (
            where scoped_complaints.received_at >= months.opens_at and scoped_complaints.received_at < months.closes_at
        ) as complaints,
        count(*) filter (
            where scoped_complaints.due_at >= months.opens_at and scoped_complaints.due_at < months.closes_at
        ) as complaints_due,
        count(*) filter (
            where
                scoped_complaints.due_at >= months.opens_at
                and scoped_complaints.due_at < months.closes_at
                and scoped_complaints.resolved_at <= scoped_complaints.due_at
        ) as complaints_on_time
    from months
    cross join scoped_complaints
    group by months.as_of
),

final as (
    select
        months.as_of,
        book.loans::bigint as loans,
        coalesce(book.outstanding, 0)::decimal(18, 2) as outstanding,
        coalesce(book.overdue_balance, 0)::decimal(18, 2) as overdue_balance,
        book.delinquent_loans::bigint as delinquent_loans,
        (coalesce(book.overdue_balance, 0) / nullif(book.outstanding, 0))::double as delinquency_rate_amount,
        (book.delinquent_loans / nullif(book.loans, 0))::double as delinquency_rate_count,
        coalesce(transitions.m1_prev_loans, 0)::bigint as m1_prev_loans,
        (transitions.rolled_m1_m2 / nullif(transitions.m1_prev_loans, 0))::double as roll_m1_m2,
        coalesce(transitions.delinquent_prev_loans, 0)::bigint as delinquent_prev_loans,
        (transitions.cured / nullif(transitions.delinquent_prev_loans, 0))::double as cure_rate,
        coalesce(money.recovered_amount, 0)::decimal(18, 2) as recovered_amount,
        coalesce(money.collection_cost, 0)::decimal(18, 2) as collection_cost,
        round(money.collection_cost / nullif(money.recovered_amount, 0), 4)::double
            as cost_per_yuan_recovered,
        coalesce(complaint_counts.complaints, 0)::bigint as complaints,
        (coalesce(complaint_counts.complaints, 0) * 10000.0 / nullif(book.delinquent_loans, 0))::double
            as complaints_per_10k_overdue,
        coalesce(complaint_counts.complaints_due, 0)::bigint as complaints_due,
        (complaint_counts.complaints_on_time / nullif(complaint_counts.complaints_due, 0))::double
            as on_time_share
    from months
    inner join book on months.as_of = book.as_of
    left join transitions on months.as_of = transitions.as_of
    left join money on months.as_of = money.as_of
    left join complaint_counts on months.as_of = complaint_counts.as_of
)

select * from final
order by as_of desc
