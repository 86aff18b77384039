-- Backtest of the roll-rate forecast (queries/roll_forecast.sql): from every month-end as_of that has k
-- month-ends of transitions before it (t = as_of - k months .. as_of - 1 month, each with its next
-- month-end in the data) and an observed month-end `horizon` months later, the same forecast (pooled
-- count and balance roll matrices of those k months, closed absorbing, new loans entering M0 at their
-- k-month mean) is made `horizon` months ahead and compared with the balance observed at month_end.
-- One row per origin and bucket M0..M6+ (where forecast or actual is non-zero), plus a row with bucket
-- `M1+`: the delinquent balance (M1..M6+ summed), whose error is the one DOMAIN.md names.
-- abs_pct_error = |forecast_balance - actual_balance| / actual_balance (a fraction; null when actual is 0).
-- The naive forecast ("next month = this month") for the same rows is the balance observed at as_of;
-- portal/forecast.py accuracy() puts the two mean absolute percentage errors side by side.
-- param: horizon text = 1 in 1|2|3|4|5|6
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

book as (
    select as_of, bucket_no as state, sum(outstanding)::double as balance
    from scoped
    group by as_of, bucket_no
),

month_flows as (
    select
        as_of as t,
        bucket_no as i,
        next_no as j,
        sum(loans)::double as n,
        sum(outstanding)::double as b0,
        sum(next_outstanding)::double as b1
    from scoped
    where next_no is not null
    group by as_of, bucket_no, next_no
),

month_inflow as (
    -- per transition month t: the balance of the loans in the t+1 snapshot that were not in the t one
    select
        months.t,
        coalesce(next_book.balance, 0) - coalesce(arrived.balance, 0) as new_balance
    from (select distinct t from month_flows) as months
    left join (
        select as_of, sum(balance) as balance from book group by as_of
    ) as next_book on next_book.as_of = last_day(months.t + interval 1 month)
    left join (
        select t, sum(b1) as balance from month_flows where j < 8 group by t
    ) as arrived on months.t = arrived.t
),

origins as (
    -- month-ends with exactly k transition months before them and an observed month-end `horizon` later
    select
        candidates.as_of,
        last_day(candidates.as_of + to_months($horizon::integer)) as month_end
    from (select distinct as_of from scoped) as candidates
    where
        (
            select count(distinct month_flows.t)
            from month_flows
            where
                month_flows.t < candidates.as_of
                and month_flows.t >= last_day(candidates.as_of - to_months($k::integer))
        ) = $k::integer
        and last_day(candidates.as_of + to_months($horizon::integer)) in (select as_of from scoped)
),

pooled as (
    select
        origins.as_of,
        month_flows.i,
        month_flows.j,
        sum(month_flows.n) as n,
        sum(month_flows.b0) as b0,
        sum(month_flows.b1) as b1,
        sum(sum(month_flows.n)) over (partition by origins.as_of, month_flows.i) as n_i,
        sum(sum(month_flows.b0)) over (partition by origins.as_of, month_flows.i) as b_i
    from origins
    inner join month_flows
        on
            month_flows.t < origins.as_of
            and month_flows.t >= last_day(origins.as_of - to_months($k::integer))
    group by origins.as_of, month_flows.i, month_flows.j
),

chain_matrix as (
    select
        as_of,
        i,
        j,
        case
            when b_i > 0 then (case when j = 8 then b0 else b1 end) / b_i
            else n / n_i
        end as q
    from pooled
    union all
    select as_of, 8, 8, 1.0 from origins
    union all
    select as_of, 9, 9, 1.0 from origins
    union all
    select origins.as_of, 9, 0, avg(month_inflow.new_balance)
    from origins
    inner join month_inflow
        on
            month_inflow.t < origins.as_of
            and month_inflow.t >= last_day(origins.as_of - to_months($k::integer))
    group by origins.as_of
    union all
    select origins.as_of, buckets.state, buckets.state, 1.0
    from origins
    cross join range(0, 8) as buckets (state)
    where not exists (select 1 from pooled where pooled.as_of = origins.as_of and pooled.i = buckets.state)
),

chain (as_of, h, state, balance) as (
    select book.as_of, 0, book.state, book.balance from book semi join origins on book.as_of = origins.as_of
    union all
    select as_of, 0, 8, 0.0 from origins
    union all
    select as_of, 0, 9, 1.0 from origins
    union all
    select
        chain.as_of,
        chain.h + 1,
        chain_matrix.j,
        sum(chain.balance * chain_matrix.q)
    from chain
    inner join chain_matrix on chain.as_of = chain_matrix.as_of and chain.state = chain_matrix.i
    where chain.h < $horizon::integer
    group by chain.as_of, chain.h, chain_matrix.j
),

forecast as (
    select as_of, state, balance from chain where h = $horizon::integer and state <= 7
),

actual as (
    select origins.as_of, book.state, book.balance
    from origins
    inner join book on origins.month_end = book.as_of
),

per_bucket as (
    select
        coalesce(forecast.as_of, actual.as_of) as as_of,
        coalesce(forecast.state, actual.state) as state,
        coalesce(forecast.balance, 0) as forecast_balance,
        coalesce(actual.balance, 0) as actual_balance
    from forecast
    full outer join actual on forecast.as_of = actual.as_of and forecast.state = actual.state
),

final as (
    select as_of, state, forecast_balance, actual_balance
    from per_bucket
    where forecast_balance <> 0 or actual_balance <> 0
    union all
    select as_of, 10 as state, sum(forecast_balance), sum(actual_balance)
    from per_bucket
    where state between 1 and 7
    group by as_of
)

select
    final.as_of,
    origins.month_end,
    case final.state
        when 0 then 'M0' when 1 then 'M1' when 2 then 'M2' when 3 then 'M3' when 4 then 'M4'
        when 5 then 'M5' when 6 then 'M6' when 7 then 'M6+' else 'M1+'
    end as bucket,
    round(final.forecast_balance, 2)::decimal(18, 2) as forecast_balance,
    round(final.actual_balance, 2)::decimal(18, 2) as actual_balance,
    (abs(final.forecast_balance - final.actual_balance) / nullif(final.actual_balance, 0))::double
        as abs_pct_error
from final
inner join origins on final.as_of = origins.as_of
order by final.as_of, final.state
