-- The part of the contact log that the pre-contact check reads (portal/prevention.py): every contact
-- that a rule of any pack can count when a new contact is appended, i.e. phone calls (daily caps,
-- 7-in-7, calls after a conversation) and right-party contacts of any channel (the start of the
-- third-party and conversation windows). Other contacts (reminders, letters, visits that reached
-- nobody) only ever breach a rule themselves, so a check never needs them.
-- kind packs what the rules ask of a contact into bits: 1 phone, 2 right-party outcome (rpc, ptp,
-- refused), 4 no_answer, 8 party debtor.
-- Stored in the order of a 64-bit hash of the debtor (the loan's customer) and then time, so that a
-- check reads one debtor's recent contacts through the zone maps of customer_hash and contact_at:
-- never the whole log. Contacts of loans without a loan record are left out (a check needs the loan).
-- Its hashes are DuckDB's hash(), so the table is DuckDB's own: Spark neither exports nor derives it.
-- derived: engine duckdb
-- derived: reads contacts, loans
-- derived: key loan_id
with

counted as (
    select
        loan_id,
        contact_at,
        (
            case when channel = 'phone' then 1 else 0 end
            + case when outcome in ('rpc', 'ptp', 'refused') then 2 else 0 end
            + case when outcome = 'no_answer' then 4 else 0 end
            + case when party = 'debtor' then 8 else 0 end
        )::utinyint as kind
    from contacts
    where channel = 'phone' or outcome in ('rpc', 'ptp', 'refused')
),

final as (
    select
        hash(loans.customer_id) as customer_hash,
        loans.customer_id,
        counted.loan_id,
        counted.contact_at,
        counted.kind
    from counted
    inner join loans on counted.loan_id = loans.loan_id
)

select * from final
order by customer_hash, contact_at
