-- Month-level rollup of money in and out: per calendar month (month_end = its last day, in the
-- portal's time zone), product, region and risk grade, the payments received and the contact cost
-- spent. overview_kpis reads it instead of scanning the contact log on every view. An upload of
-- contacts or payments recomputes only the months its rows fall in; one of loans rebuilds it.
-- derived: reads loans, contacts, payments
-- derived: key month_end
with

money as (
    select
        loan_id,
        last_day(paid_at::date) as month_end,
        amount as recovered_amount,
        0::decimal(18, 2) as collection_cost
    from payments
    union all
    select
        loan_id,
        last_day(contact_at::date) as month_end,
        0::decimal(18, 2) as recovered_amount,
        cost as collection_cost
    from contacts
),

by_loan_month as (
    -- aggregate per loan first: the join to loans then sees one row per loan and month
    select
        loan_id,
        month_end,
        sum(recovered_amount) as recovered_amount,
        sum(collection_cost) as collection_cost
    from money
    group by loan_id, month_end
)

select
    by_loan_month.month_end,
    loans.product,
    loans.region,
    loans.risk_grade,
    sum(by_loan_month.recovered_amount)::decimal(18, 2) as recovered_amount,
    sum(by_loan_month.collection_cost)::decimal(18, 2) as collection_cost
from by_loan_month
left join loans on by_loan_month.loan_id = loans.loan_id
group by all
