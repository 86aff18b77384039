-- Roll-rate forecast: loans and balance per bucket for the 1..horizon month-ends after as_of (default: the
-- latest month-end in scope), by a Markov chain on the roll matrices of the last k month-ends.
-- States: the buckets M0..M6+ and `closed`, which is absorbing. From the transitions t -> t+1 with
-- t+1 <= as_of and t >= as_of - k months (fewer when the data has fewer), pooled over those months:
--   loans:   share p(i, j) = loans in i at t that are in j at t+1 / loans in i at t  (count-weighted);
--   balance: rate  q(i, j) = balance at t+1 of the loans in i at t that are in j at t+1 / balance in i at t
--            (balance-weighted; the industry's balance roll rate, so repayment and growth of balances
--            are in it); q(i, closed) = balance at t of the loans that closed / balance in i at t.
-- Pooling = each month's shares averaged with weights equal to that month's loans (balance) in i.
-- New loans (in the t+1 snapshot, not in the t one) enter M0 every month at the mean of those k months'
-- new-loan counts and balances. A bucket with no loans in the k months keeps what reaches it.
-- forecast_* are the expected values (loans may be fractional); `closed` rows are cumulative since
-- as_of (its balance is what the closing loans owed at their last month-end); `M1+` rows sum M1..M6+.
-- low_balance / high_balance: the 2.5th and 97.5th percentiles of 500 simulated paths in which every
-- future month repeats the balance rates and new-loan balance of one of the k months, drawn at random
-- (a bootstrap over the months; path s draws month 1 + hash(16 s + step) mod k at each step, so the
-- draws are independent across steps and the same data always gives the same interval).
-- Reads the rollup book_flows (queries/derived/book_flows.sql), never the snapshots.
-- param: as_of date = null
-- param: horizon text = 6 in 1|2|3|4|5|6
-- param: k text = 6 in 1|2|3|4|5|6|7|8|9|10|11|12
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with recursive

scoped as (
    select
        as_of,
        bucket_no,
        next_no,
        loans,
        outstanding,
        next_outstanding
    from book_flows
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

origin as (
    -- the month-end the forecast starts from; nothing is forecast from a date with no snapshot
    select coalesce($as_of::date, (select max(as_of) from scoped)) as as_of
    where coalesce($as_of::date, (select max(as_of) from scoped)) in (select as_of from scoped)
),

start_vector as (
    select
        scoped.bucket_no as state,
        sum(scoped.loans)::double as loans,
        sum(scoped.outstanding)::double as balance
    from scoped
    inner join origin on scoped.as_of = origin.as_of
    group by scoped.bucket_no
),

month_flows as (
    -- each transition month t of the window, its rank d (1 = oldest) for the bootstrap draws
    select
        scoped.as_of as t,
        dense_rank() over (order by scoped.as_of) as d,
        scoped.bucket_no as i,
        scoped.next_no as j,
        sum(scoped.loans)::double as n,
        sum(scoped.outstanding)::double as b0,
        sum(scoped.next_outstanding)::double as b1
    from scoped
    inner join origin
        on
            scoped.as_of < origin.as_of
            and scoped.as_of >= last_day(origin.as_of - to_months($k::integer))
    where scoped.next_no is not null
    group by scoped.as_of, scoped.bucket_no, scoped.next_no
),

month_count as (
    select count(distinct t)::integer as months from month_flows
),

month_inflow as (
    -- loans in the t+1 snapshot that were not in the t snapshot: the whole t+1 book minus the arrivals
    select
        months.d,
        coalesce(next_book.loans, 0) - coalesce(arrived.loans, 0) as new_loans,
        coalesce(next_book.balance, 0) - coalesce(arrived.balance, 0) as new_balance
    from (select distinct t, d from month_flows) as months
    left join (
        select as_of, sum(loans)::double as loans, sum(outstanding)::double as balance
        from scoped
        group by as_of
    ) as next_book on next_book.as_of = last_day(months.t + interval 1 month)
    left join (
        select t, sum(n) as loans, sum(b1) as balance
        from month_flows
        where j < 8
        group by t
    ) as arrived on months.t = arrived.t
),

pooled as (
    select
        i,
        j,
        sum(n) as n,
        sum(b0) as b0,
        sum(b1) as b1,
        sum(sum(n)) over (partition by i) as n_i,
        sum(sum(b0)) over (partition by i) as b_i
    from month_flows
    group by i, j
),

pooled_matrix as (
    select
        i,
        j,
        n / n_i as p,
        case
            when b_i > 0 then (case when j = 8 then b0 else b1 end) / b_i
            else n / n_i  -- a bucket whose loans all had zero balance: balance moves like the count
        end as q
    from pooled
),

chain_matrix as (
    -- the pooled matrix; closed (8) absorbing; state 9 is the new-loan source: it keeps itself at 1 and
    -- adds the mean new loans and balance to M0 every month; a bucket with no history stays put
    select i, j, p, q from pooled_matrix
    union all
    select 8, 8, 1.0, 1.0
    union all
    select 9, 9, 1.0, 1.0
    union all
    select 9, 0, avg(new_loans), avg(new_balance) from month_inflow
    union all
    select buckets.state, buckets.state, 1.0, 1.0 from range(0, 8) as buckets (state)
    where buckets.state not in (select i from pooled_matrix)
),

chain (h, state, loans, balance) as (
    select 0, state, loans, balance from start_vector
    union all
    select 0, 8, 0.0, 0.0
    union all
    select 0, 9, 1.0, 1.0
    union all
    select
        chain.h + 1,
        chain_matrix.j,
        sum(chain.loans * chain_matrix.p),
        sum(chain.balance * chain_matrix.q)
    from chain
    inner join chain_matrix on chain.state = chain_matrix.i
    where chain.h < $horizon::integer
    group by chain.h, chain_matrix.j
),

month_matrix as (
    -- one month's balance rates per rank d; a bucket empty that month takes the pooled row
    select
        d,
        i,
        j,
        case
            when sum(b0) over (partition by d, i) > 0
                then (case when j = 8 then b0 else b1 end) / sum(b0) over (partition by d, i)
            else n / sum(n) over (partition by d, i)
        end as q
    from month_flows
    union all
    select ranks.d, pooled_matrix.i, pooled_matrix.j, pooled_matrix.q
    from (select distinct d from month_flows) as ranks
    cross join pooled_matrix
    where not exists (select 1 from month_flows where month_flows.d = ranks.d and month_flows.i = pooled_matrix.i)
    union all
    select d, 8, 8, 1.0 from month_inflow
    union all
    select d, 9, 9, 1.0 from month_inflow
    union all
    select d, 9, 0, new_balance from month_inflow
    union all
    select month_inflow.d, buckets.state, buckets.state, 1.0
    from month_inflow
    cross join range(0, 8) as buckets (state)
    where buckets.state not in (select i from pooled_matrix)
),

paths (s, h, state, balance) as (
    select paths.s, 0, start_vector.state, start_vector.balance
    from range(1, 501) as paths (s)
    cross join start_vector
    union all
    select s, 0, 8, 0.0 from range(1, 501) as paths (s)
    union all
    select s, 0, 9, 1.0 from range(1, 501) as paths (s)
    union all
    select
        paths.s,
        paths.h + 1,
        month_matrix.j,
        sum(paths.balance * month_matrix.q)
    from paths
    cross join month_count
    inner join month_matrix
        on
            paths.state = month_matrix.i
            and month_matrix.d = 1 + (hash(paths.s * 16 + paths.h + 1) % month_count.months)::integer
    where paths.h < $horizon::integer
    group by paths.s, paths.h, month_matrix.j
),

labelled_paths as (
    select s, h, state, balance from paths where h > 0 and state <= 8
    union all
    select s, h, 10 as state, sum(balance) from paths where h > 0 and state between 1 and 7 group by s, h
),

intervals as (
    select
        h,
        state,
        quantile_disc(balance, 0.025) as low_balance,
        quantile_disc(balance, 0.975) as high_balance
    from labelled_paths
    group by h, state
),

point as (
    select h, state, loans, balance from chain where h > 0 and state <= 8
    union all
    select h, 10 as state, sum(loans), sum(balance) from chain where h > 0 and state between 1 and 7 group by h
),

final as (
    select
        last_day(origin.as_of + to_months(point.h)) as month_end,
        point.state,
        case point.state
            when 0 then 'M0' when 1 then 'M1' when 2 then 'M2' when 3 then 'M3' when 4 then 'M4'
            when 5 then 'M5' when 6 then 'M6' when 7 then 'M6+' when 8 then 'closed' else 'M1+'
        end as bucket,
        round(point.loans, 2)::double as forecast_loans,
        round(point.balance, 2)::decimal(18, 2) as forecast_balance,
        round(intervals.low_balance, 2)::decimal(18, 2) as low_balance,
        round(intervals.high_balance, 2)::decimal(18, 2) as high_balance
    from point
    cross join origin
    inner join intervals on point.h = intervals.h and point.state = intervals.state
    where (select months from month_count) > 0
)

select
    month_end,
    bucket,
    forecast_loans,
    forecast_balance,
    low_balance,
    high_balance
from final
order by month_end, state
