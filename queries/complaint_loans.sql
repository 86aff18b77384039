-- The loans of the customer behind a complaint (its customer_id, else its loan's customer),
-- with one row per month-end snapshot: the DPD history. Loans without snapshots keep one row.
-- param: complaint_id text
with

complaint as (
    select
        customer_id,
        loan_id
    from complaints
    where complaint_id = $complaint_id
    limit 1
),

customer as (
    select coalesce(
        complaint.customer_id,
        (select loans.customer_id from loans where loans.loan_id = complaint.loan_id limit 1)
    ) as customer_id
    from complaint
),

customer_loans as (
    select
        loans.loan_id,
        loans.product,
        loans.principal,
        loans.disbursed_on
    from loans
    inner join customer on loans.customer_id = customer.customer_id
),

final as (
    select
        customer_loans.loan_id,
        customer_loans.product,
        customer_loans.principal,
        customer_loans.disbursed_on,
        snapshots.as_of,
        snapshots.dpd,
        case
            when snapshots.dpd is null then null
            when snapshots.dpd = 0 then 'M0'
            when snapshots.dpd <= 30 then 'M1'
            when snapshots.dpd <= 60 then 'M2'
            when snapshots.dpd <= 90 then 'M3'
            when snapshots.dpd <= 120 then 'M4'
            when snapshots.dpd <= 150 then 'M5'
            when snapshots.dpd <= 180 then 'M6'
            else 'M6+'
        end as bucket,
        snapshots.outstanding_principal,
        snapshots.overdue_amount
    from customer_loans
    left join snapshots on customer_loans.loan_id = snapshots.loan_id
)

select * from final
order by loan_id, as_of
