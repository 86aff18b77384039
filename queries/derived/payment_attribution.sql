-- One row per payment: the last reaching contact (outcome delivered, third_party, rpc, ptp or
-- refused) on the same loan in the 7 days before it (contact_at in [paid_at - 7 days, paid_at]),
-- or null columns when there is none (the payment is not attributed). DOMAIN.md, Recovered amount.
-- Ties on contact_at go to the greatest contact_id, so the result does not depend on scan order.
-- The loan's product, region and risk grade ride along, so that a filtered dashboard needs no join.
-- derived: reads loans, contacts, payments
-- derived: key loan_id
with

reaching as (
    select
        contact_id,
        loan_id,
        contact_at,
        channel,
        agent_id,
        agency_id,
        strategy
    from contacts
    where outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused')
),

matched as (
    select
        payments.payment_id,
        arg_max(
            {
                'contact_id': reaching.contact_id,
                'contact_at': reaching.contact_at,
                'channel': reaching.channel,
                'agent_id': reaching.agent_id,
                'agency_id': reaching.agency_id,
                'strategy': reaching.strategy
            },
            (reaching.contact_at, reaching.contact_id)
        ) as hit
    from payments
    inner join reaching
        on
            payments.loan_id = reaching.loan_id
            and reaching.contact_at <= payments.paid_at
            and reaching.contact_at >= payments.paid_at - interval 7 day
    group by payments.payment_id
)

select
    payments.payment_id,
    payments.loan_id,
    payments.paid_at,
    payments.amount,
    matched.hit.contact_id as contact_id,
    matched.hit.contact_at as contact_at,
    matched.hit.channel as channel,
    matched.hit.agent_id as agent_id,
    matched.hit.agency_id as agency_id,
    matched.hit.strategy as strategy,
    loans.product,
    loans.region,
    loans.risk_grade
from payments
left join matched on payments.payment_id = matched.payment_id
left join loans on payments.loan_id = loans.loan_id
