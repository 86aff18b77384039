-- Risk-model rows: one per loan and month-end M for loans not yet in M3+ (DPD <= 60) at M, with
-- snapshot features at M, loan features, and contact and payment features over the month that ends at
-- M (after the previous month-end, up to M, portal timezone). The label rolled_m3 is 1 when the loan
-- is at DPD >= 61 at any of the next three month-ends, 0 when it is not (a loan that leaves the book
-- has not rolled), and null while those three month-ends are not all in the data.
-- param: start date = null
-- param: end date = null
with

month_ends as (
    select distinct as_of from snapshots
),

horizons as (
    select
        this_month.as_of,
        count(later.as_of) as months_ahead
    from month_ends as this_month
    left join month_ends as later
        on later.as_of > this_month.as_of and later.as_of <= last_day(this_month.as_of + interval 3 month)
    group by this_month.as_of
),

base as (
    select
        loan_id,
        as_of,
        dpd,
        outstanding_principal,
        overdue_amount
    from snapshots
    where
        dpd <= 60
        and ($start::date is null or as_of >= $start::date)
        and ($end::date is null or as_of < $end::date)
),

future as (
    select
        base.loan_id,
        base.as_of,
        max(later.dpd) as max_future_dpd
    from base
    inner join snapshots as later
        on
            base.loan_id = later.loan_id
            and later.as_of > base.as_of
            and later.as_of <= last_day(base.as_of + interval 3 month)
    group by base.loan_id, base.as_of
),

monthly_contacts as (
    select
        loan_id,
        last_day(contact_at::date) as as_of,
        count(*) as contacts,
        count(*) filter (where channel = 'phone') as phone_calls,
        count(*) filter (where outcome in ('rpc', 'ptp', 'refused')) as rpc_contacts,
        count(*) filter (where outcome = 'ptp') as ptp_contacts
    from contacts
    group by loan_id, last_day(contact_at::date)
),

monthly_payments as (
    select
        loan_id,
        last_day(paid_at::date) as as_of,
        count(*) as payments,
        sum(amount) as paid_amount
    from payments
    group by loan_id, last_day(paid_at::date)
),

final as (
    select
        base.loan_id,
        base.as_of,
        base.dpd,
        base.outstanding_principal::double as outstanding_principal,
        base.overdue_amount::double as overdue_amount,
        loans.product,
        coalesce(loans.risk_grade, 'unknown') as risk_grade,
        loans.term_months,
        loans.annual_rate::double as annual_rate,
        datediff('month', loans.disbursed_on, base.as_of) as months_on_book,
        coalesce(monthly_contacts.contacts, 0)::bigint as contacts,
        coalesce(monthly_contacts.phone_calls, 0)::bigint as phone_calls,
        coalesce(monthly_contacts.rpc_contacts, 0)::bigint as rpc_contacts,
        coalesce(monthly_contacts.ptp_contacts, 0)::bigint as ptp_contacts,
        coalesce(monthly_payments.payments, 0)::bigint as payments,
        coalesce(monthly_payments.paid_amount, 0)::double as paid_amount,
        case
            when horizons.months_ahead < 3 then null
            when coalesce(future.max_future_dpd, 0) >= 61 then 1
            else 0
        end::integer as rolled_m3
    from base
    inner join loans on base.loan_id = loans.loan_id
    inner join horizons on base.as_of = horizons.as_of
    left join future on base.loan_id = future.loan_id and base.as_of = future.as_of
    left join monthly_contacts on base.loan_id = monthly_contacts.loan_id and base.as_of = monthly_contacts.as_of
    left join monthly_payments on base.loan_id = monthly_payments.loan_id and base.as_of = monthly_payments.as_of
)

select * from final
order by as_of, loan_id
