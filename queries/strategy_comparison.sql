-- Champion vs challenger: the unit is a loan delinquent (DPD >= 1) at a month-end M in [start, end)
-- whose next month-end is in the data and that had a contact carrying a strategy in the window
-- (M, next month-end]; its strategy is that of its first such contact. Per strategy: accounts,
-- cured (DPD 0 at the next month-end), cure rate, payments in the window, recovered per account and
-- the sample standard deviation of recovered per account (for a Welch interval).
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

month_ends as (
    select distinct as_of from snapshots
),

month_windows as (
    select
        this_month.as_of,
        next_month.as_of as next_as_of,
        (this_month.as_of + 1)::timestamptz as opens_at,
        (next_month.as_of + 1)::timestamptz as closes_at
    from month_ends as this_month
    inner join month_ends as next_month
        on next_month.as_of = last_day(this_month.as_of + interval 1 month)
    where
        ($start::date is null or this_month.as_of >= $start::date)
        and ($end::date is null or this_month.as_of < $end::date)
),

scoped_delinquent as (
    -- two branches so that an unfiltered call never pays for the semi-join with loans
    select
        loan_id,
        as_of
    from snapshots
    where dpd >= 1 and $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select
        loan_id,
        as_of
    from snapshots
    where
        dpd >= 1
        and not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

delinquent as (
    select
        scoped_delinquent.loan_id,
        month_windows.as_of,
        month_windows.next_as_of,
        month_windows.opens_at,
        month_windows.closes_at
    from scoped_delinquent
    inner join month_windows on scoped_delinquent.as_of = month_windows.as_of
),

treated as (
    select
        delinquent.loan_id,
        delinquent.as_of,
        delinquent.next_as_of,
        delinquent.opens_at,
        delinquent.closes_at,
        arg_min(contacts.strategy, contacts.contact_at) as strategy
    from delinquent
    inner join contacts
        on
            delinquent.loan_id = contacts.loan_id
            and contacts.contact_at >= delinquent.opens_at
            and contacts.contact_at < delinquent.closes_at
    where contacts.strategy is not null and contacts.strategy <> ''
    group by all
),

window_payments as (
    select
        treated.loan_id,
        treated.as_of,
        sum(payments.amount) as recovered
    from treated
    inner join payments
        on
            treated.loan_id = payments.loan_id
            and payments.paid_at >= treated.opens_at
            and payments.paid_at < treated.closes_at
    group by treated.loan_id, treated.as_of
),

accounts as (
    select
        treated.strategy,
        coalesce(next_snap.dpd = 0, false) as is_cured,
        coalesce(window_payments.recovered, 0)::double as recovered
    from treated
    left join snapshots as next_snap
        on
            treated.loan_id = next_snap.loan_id
            and treated.next_as_of = next_snap.as_of
    left join window_payments
        on
            treated.loan_id = window_payments.loan_id
            and treated.as_of = window_payments.as_of
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
    from accounts
    group by strategy
)

select * from final
order by strategy
