-- One row per promise to pay (a contact with outcome ptp) and whether it was kept: the payments on its
-- loan in [contact_at, ptp_due_on + 3 days], up to the end of that day in the session time zone, add
-- up to at least ptp_amount. DOMAIN.md, PTP kept rate. A ptp without a due date counts from its own
-- day; one without an amount is kept by any payment. The loan's product, region and risk grade ride
-- along, so that a filtered dashboard needs no join.
-- derived: reads loans, contacts, payments
-- derived: key loan_id
with

promises as (
    select
        contact_id,
        loan_id,
        contact_at,
        channel,
        agent_id,
        agency_id,
        strategy,
        ptp_amount,
        ptp_due_on,
        (coalesce(ptp_due_on, contact_at::date) + 4)::timestamptz as closes_at
    from contacts
    where outcome = 'ptp'
),

paid as (
    select
        promises.contact_id,
        sum(payments.amount) as paid_amount
    from promises
    inner join payments
        on
            promises.loan_id = payments.loan_id
            and payments.paid_at >= promises.contact_at
            and payments.paid_at < promises.closes_at
    group by promises.contact_id
),

final as (
    select
        promises.contact_id,
        promises.loan_id,
        promises.contact_at,
        promises.channel,
        promises.agent_id,
        promises.agency_id,
        promises.strategy,
        promises.ptp_amount,
        coalesce(paid.paid_amount, 0)::decimal(18, 2) as paid_amount,
        coalesce(paid.paid_amount, 0) >= coalesce(promises.ptp_amount, 0.01) as is_kept,
        loans.product,
        loans.region,
        loans.risk_grade
    from promises
    left join paid on promises.contact_id = paid.contact_id
    left join loans on promises.loan_id = loans.loan_id
)

select * from final
order by contact_at
