-- One row per repayment plan with what the 90-day cure comparison needs (DOMAIN.md, Flexible
-- repayment plans): the month-end before agreed_on (the last day of the month before it) and the
-- loan's DPD and bucket there (null when the loan has no snapshot at that month-end); the horizon, the
-- first month-end at least 90 days after agreed_on, and the loan's DPD there (null when it has no
-- snapshot then: closed, or the month-end is not in the data yet); horizon_months, the number of
-- months from the month-end before to the horizon (3, 4 or 5), which says which of the control's
-- later DPDs (repayment_plan_control) is read at the same month-end. The loan's product, region and
-- risk grade ride along.
-- derived: reads loans, snapshots, repayment_plans
-- derived: key loan_id
with

plans as (
    select
        plan_id,
        loan_id,
        complaint_id,
        plan_type,
        status,
        agreed_on,
        amount,
        instalments,
        first_due_on,
        (date_trunc('month', agreed_on) - interval 1 day)::date as month_end_before,
        last_day(agreed_on + 90) as horizon_on
    from repayment_plans
),

final as (
    select
        plans.plan_id,
        plans.loan_id,
        plans.complaint_id,
        plans.plan_type,
        plans.status,
        plans.agreed_on,
        plans.amount,
        plans.instalments,
        plans.first_due_on,
        plans.month_end_before,
        before_snap.dpd as dpd_before,
        case
            when before_snap.dpd is null then null
            when before_snap.dpd = 0 then 'M0'
            when before_snap.dpd <= 30 then 'M1'
            when before_snap.dpd <= 60 then 'M2'
            when before_snap.dpd <= 90 then 'M3'
            when before_snap.dpd <= 120 then 'M4'
            when before_snap.dpd <= 150 then 'M5'
            when before_snap.dpd <= 180 then 'M6'
            else 'M6+'
        end as bucket_before,
        plans.horizon_on,
        datediff('month', plans.month_end_before, plans.horizon_on)::integer as horizon_months,
        horizon_snap.dpd as horizon_dpd,
        loans.product,
        loans.region,
        loans.risk_grade
    from plans
    left join snapshots as before_snap
        on plans.loan_id = before_snap.loan_id and plans.month_end_before = before_snap.as_of
    left join snapshots as horizon_snap
        on plans.loan_id = horizon_snap.loan_id and plans.horizon_on = horizon_snap.as_of
    left join loans on plans.loan_id = loans.loan_id
)

select * from final
order by plan_id
