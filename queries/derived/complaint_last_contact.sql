-- One row per complaint on a loan: the last contact on its loan at or before it was received
-- (contact_at <= received_at; ties on contact_at go to the greatest contact_id, so the result does not
-- depend on scan order), its time and strategy; null columns when the loan had no contact by then.
-- A complaint's strategy is this contact's (complaint_rates, root_causes, channel_net_ranking).
-- Complaints without a loan have no row.
-- derived: reads contacts, complaints
-- derived: key loan_id
with

loan_complaints as (
    select
        complaint_id,
        loan_id,
        received_at
    from complaints
    where loan_id is not null
),

last_contact as (
    select
        loan_complaints.complaint_id,
        arg_max(
            {
                'contact_id': contacts.contact_id,
                'contact_at': contacts.contact_at,
                'strategy': contacts.strategy
            },
            (contacts.contact_at, contacts.contact_id)
        ) as hit
    from loan_complaints
    inner join contacts
        on
            loan_complaints.loan_id = contacts.loan_id
            and contacts.contact_at <= loan_complaints.received_at
    group by loan_complaints.complaint_id
)

select
    loan_complaints.complaint_id,
    loan_complaints.loan_id,
    loan_complaints.received_at,
    last_contact.hit.contact_id as contact_id,
    last_contact.hit.contact_at as contact_at,
    last_contact.hit.strategy as strategy
from loan_complaints
left join last_contact on loan_complaints.complaint_id = last_contact.complaint_id
