-- Drill-down of delinquency_funnel and escalation_funnel: the loans delinquent at month-end as_of
-- that reach `stage` in the window (as_of, next month-end], in the loan scope, by loan_id. A stage is
-- one of the delinquency funnel (delinquent, attempted, reached, rpc, ptp, paid, cured) or an
-- escalation step (reminder, phone, visit, legal); its rows count what that stage or step counts.
-- Reads the derived cohort table delinquent_month_activity (one row per delinquent loan-month), then
-- the picked loans' snapshot at as_of and their customers.
-- param: as_of date
-- param: stage text in delinquent|attempted|reached|rpc|ptp|paid|cured|reminder|phone|visit|legal
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
-- param: row_limit int = null
with

cohort as (
    select
        loan_id,
        as_of,
        dpd,
        next_dpd,
        paid_amount,
        product,
        region,
        risk_grade
    from delinquent_month_activity
    where
        as_of = $as_of::date
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
        and case $stage
            when 'delinquent' then true
            when 'attempted' then is_attempted
            when 'reached' then is_reached
            when 'rpc' then is_rpc
            when 'ptp' then is_ptp
            when 'paid' then paid_amount is not null
            when 'cured' then coalesce(next_dpd = 0, false)
            when 'reminder' then has_reminder
            when 'phone' then has_phone
            when 'visit' then has_visit
            when 'legal' then has_legal
            else false
        end
),

month_end as (
    select
        loan_id,
        outstanding_principal,
        overdue_amount
    from snapshots
    where as_of = $as_of::date
),

picked as (
    -- the page shows the first rows and fetches the rest only for a download (null: every row)
    select *
    from cohort
    order by loan_id
    limit $row_limit
),

final as (
    select
        picked.as_of,
        picked.loan_id,
        loans.customer_id,
        customers.name as customer_name,
        customers.mobile,
        picked.product,
        picked.region,
        picked.risk_grade,
        picked.dpd::bigint as dpd,
        month_end.outstanding_principal::decimal(18, 2) as outstanding_principal,
        month_end.overdue_amount::decimal(18, 2) as overdue_amount,
        picked.paid_amount::decimal(18, 2) as paid_amount,
        picked.next_dpd::bigint as next_dpd
    from picked
    left join month_end on picked.loan_id = month_end.loan_id
    left join loans on picked.loan_id = loans.loan_id
    left join customers on loans.customer_id = customers.customer_id
)

select * from final
order by loan_id
