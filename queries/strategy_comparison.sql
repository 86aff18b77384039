-- Champion vs challenger: the unit is a loan delinquent (DPD >= 1) at a month-end M in [start, end)
-- whose next month-end is in the data and that had a contact carrying a strategy in the window
-- (M, next month-end]; its strategy is that of its first such contact. Per strategy: accounts,
-- cured (DPD 0 at the next month-end), cure rate, payments in the window, recovered per account and
-- the sample standard deviation of recovered per account (for a Welch interval).
-- Each delinquent loan-month's window (first strategy, payments, next DPD) is kept on load in the
-- derived table delinquent_month_activity (queries/derived/).
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

month_ends as (
    -- the month-ends in the data, from the month-level rollup (one row per month-end and segment)
    select distinct as_of from book_flows
),

treated as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        first_strategy as strategy,
        coalesce(next_dpd = 0, false) as is_cured,
        coalesce(paid_amount, 0)::double as recovered
    from delinquent_month_activity
    where
        first_strategy is not null
        and ($start::date is null or as_of >= $start::date)
        and ($end::date is null or as_of < $end::date)
        -- the next month-end must be in the data (for any loan), or the loan-month is not a unit
        and next_as_of in (select as_of from month_ends)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

final as (
    select
        strategy,
        count(*)::bigint as accounts,
        count(*) filter (where is_cured)::bigint as cured,
        (count(*) filter (where is_cured) / count(*))::double as cure_rate,
        sum(recovered)::decimal(18, 2) as recovered_amount,
        round(avg(recovered), 2)::double as recovered_per_account,
        coalesce(stddev_samp(recovered), 0)::double as recovered_sd
    from treated
    group by strategy
)

select * from final
order by strategy
