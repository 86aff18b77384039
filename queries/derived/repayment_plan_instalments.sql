-- One row per instalment of every repayment plan, and whether it was kept (DOMAIN.md, Flexible
-- repayment plans). The schedule: `instalments` parts of `amount`, due monthly from first_due_on
-- (first_due_on + k - 1 months, clamped to the month's last day: 31 Jan, 28 Feb, 31 Mar...); a deferral
-- is one instalment. Parts are whole cents: instalment k's cumulative amount is
-- floor(amount_cents * k / instalments), so the parts add up to the amount exactly and the last one
-- takes the remainder (portal/plans.py `schedule` is the same rule in Python).
-- Kept: the loan's payments from the start of agreed_on (portal time zone), taken in date order
-- (ties by payment_id), reach the instalment's cumulative amount before its due date + 4 days at
-- midnight, i.e. by the end of due date + 3 days, the promise-to-pay grace of ptp_outcomes. A payment
-- above what is due carries forward to the next instalments. covered_at is the time of the payment
-- that reached the cumulative amount (null while it is not reached). Whether an unkept instalment is
-- missed depends on the clock (its closes_at has passed), so the queries decide that, not this table.
-- The loan's product, region and risk grade ride along, so that a filtered dashboard needs no join.
-- derived: reads loans, payments, repayment_plans
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
        (amount * 100)::bigint as amount_cents
    from repayment_plans
),

numbered as (
    select
        plans.*,
        unnest(generate_series(1, plans.instalments)) as instalment_no
    from plans
),

schedule as (
    select
        *,
        (first_due_on + to_months((instalment_no - 1)::integer))::date as due_on,
        amount_cents * instalment_no // instalments as cumulative_cents,
        amount_cents * (instalment_no - 1) // instalments as previous_cents
    from numbered
),

plan_payments as (
    select
        plans.plan_id,
        payments.paid_at,
        sum((payments.amount * 100)::bigint) over (
            partition by plans.plan_id
            order by payments.paid_at, payments.payment_id
            rows between unbounded preceding and current row
        ) as paid_cents
    from plans
    inner join payments
        on
            plans.loan_id = payments.loan_id
            and payments.paid_at >= plans.agreed_on::timestamptz
),

covered as (
    select
        schedule.plan_id,
        schedule.instalment_no,
        min(plan_payments.paid_at) as covered_at
    from schedule
    inner join plan_payments
        on
            schedule.plan_id = plan_payments.plan_id
            and plan_payments.paid_cents >= schedule.cumulative_cents
    group by schedule.plan_id, schedule.instalment_no
),

final as (
    select
        schedule.plan_id,
        schedule.loan_id,
        schedule.complaint_id,
        schedule.plan_type,
        schedule.status,
        schedule.agreed_on,
        schedule.amount,
        schedule.instalments,
        schedule.first_due_on,
        schedule.instalment_no,
        schedule.due_on,
        ((schedule.cumulative_cents - schedule.previous_cents) / 100)::decimal(18, 2) as amount_due,
        (schedule.cumulative_cents / 100)::decimal(18, 2) as cumulative_due,
        (schedule.due_on + 4)::timestamptz as closes_at,
        covered.covered_at,
        coalesce(covered.covered_at < (schedule.due_on + 4)::timestamptz, false) as is_kept,
        loans.product,
        loans.region,
        loans.risk_grade
    from schedule
    left join covered
        on schedule.plan_id = covered.plan_id and schedule.instalment_no = covered.instalment_no
    left join loans on schedule.loan_id = loans.loan_id
)

select * from final
order by plan_id, instalment_no
