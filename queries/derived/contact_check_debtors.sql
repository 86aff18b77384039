-- The pre-contact check's lookup of a loan's debtor (portal/prevention.py, queries/contact_check.sql):
-- the customer behind the loan, the customer's time zone (null without a customer record: the rule
-- pack's default zone applies, as in the audit engine) and opted-out channels. Stored in the order of
-- a 64-bit hash of loan_id, so that one loan's row is found through the zone maps of loan_hash
-- (integer min/max are exact; a text key's are cut to its first bytes) instead of a scan of the book.
-- opted_out_channels stays the customer's text (portal/prevention reads the comma-separated names).
-- Its hashes are DuckDB's hash(), so the table is DuckDB's own: Spark neither exports nor derives it.
-- derived: engine duckdb
-- derived: reads loans, customers
-- derived: key loan_id
with

customer_records as (
    select distinct on (customer_id)
        customer_id,
        timezone,
        opted_out_channels
    from customers
),

final as (
    select
        hash(loans.loan_id) as loan_hash,
        loans.loan_id,
        loans.customer_id,
        hash(loans.customer_id) as customer_hash,
        customer_records.timezone,
        customer_records.opted_out_channels
    from loans
    left join customer_records on loans.customer_id = customer_records.customer_id
)

select * from final
order by loan_hash
