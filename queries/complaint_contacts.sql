-- The contact log around a complaint: every contact on the customer's loans from `days` days
-- before to `days` days after received_at, with the debtor's local time.
-- param: complaint_id text
-- param: days int = 30
with

complaint as (
    select
        received_at,
        customer_id,
        loan_id
    from complaints
    where complaint_id = $complaint_id
    limit 1
),

customer as (
    select
        complaint.received_at,
        coalesce(
            complaint.customer_id,
            (select loans.customer_id from loans where loans.loan_id = complaint.loan_id limit 1)
        ) as customer_id
    from complaint
),

customer_loans as (
    select
        loans.loan_id,
        customer.received_at,
        coalesce(customers.timezone, 'Asia/Shanghai') as timezone
    from loans
    inner join customer on loans.customer_id = customer.customer_id
    left join customers on loans.customer_id = customers.customer_id
),

final as (
    select
        contacts.contact_id,
        contacts.loan_id,
        contacts.contact_at,
        strftime(timezone(customer_loans.timezone, contacts.contact_at), '%Y-%m-%d %H:%M') as local_time,
        contacts.channel,
        contacts.party,
        contacts.outcome,
        contacts.agent_id,
        contacts.agency_id,
        contacts.collectors,
        contacts.duration_s,
        date_diff('day', customer_loans.received_at::date, contacts.contact_at::date) as days_from_complaint
    from contacts
    inner join customer_loans on contacts.loan_id = customer_loans.loan_id
    where
        contacts.contact_at >= customer_loans.received_at - to_days($days)
        and contacts.contact_at <= customer_loans.received_at + to_days($days)
)

select * from final
order by contact_at, contact_id
