-- One row per delinquent loan-month (a snapshot with DPD >= 1 at as_of) and what happened on that
-- loan in the window (as_of, next month-end], i.e. contact_at or paid_at in
-- [as_of + 1, last_day(as_of + 1 month) + 1) in the session time zone: for a month-end, the calendar
-- month after it. The cohort of the funnels and of strategy_comparison (DOMAIN.md, Delinquency funnel).
-- Flags: any contact; reached (delivered, third_party, rpc, ptp, refused); rpc (rpc, ptp, refused);
-- ptp; escalation steps reminder (sms, app), phone, visit, legal. first_strategy is the strategy of the
-- window's first contact carrying one (ties on contact_at: the smallest contact_id); paid_amount the
-- sum of the window's payments (null when none); next_dpd the loan's DPD at the next month-end (null
-- when it has no snapshot there). The loan's product, region and risk grade ride along, so that a
-- filtered dashboard needs no join.
-- derived: reads loans, snapshots, contacts, payments
-- derived: key loan_id
with

cohort as (
    select
        loan_id,
        as_of,
        dpd,
        last_day(as_of + interval 1 month) as next_as_of,
        (as_of + 1)::timestamptz as opens_at,
        (last_day(as_of + interval 1 month) + 1)::timestamptz as closes_at
    from snapshots
    where dpd >= 1
),

window_contacts as (
    select
        cohort.loan_id,
        cohort.as_of,
        true as is_attempted,
        bool_or(contacts.outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused')) as is_reached,
        bool_or(contacts.outcome in ('rpc', 'ptp', 'refused')) as is_rpc,
        bool_or(contacts.outcome = 'ptp') as is_ptp,
        bool_or(contacts.channel in ('sms', 'app')) as has_reminder,
        bool_or(contacts.channel = 'phone') as has_phone,
        bool_or(contacts.channel = 'visit') as has_visit,
        bool_or(contacts.channel = 'legal') as has_legal,
        arg_min(contacts.strategy, (contacts.contact_at, contacts.contact_id))
            filter (where contacts.strategy is not null and contacts.strategy <> '') as first_strategy
    from cohort
    inner join contacts
        on
            cohort.loan_id = contacts.loan_id
            and contacts.contact_at >= cohort.opens_at
            and contacts.contact_at < cohort.closes_at
    group by cohort.loan_id, cohort.as_of
),

window_payments as (
    select
        cohort.loan_id,
        cohort.as_of,
        sum(payments.amount) as paid_amount
    from cohort
    inner join payments
        on
            cohort.loan_id = payments.loan_id
            and payments.paid_at >= cohort.opens_at
            and payments.paid_at < cohort.closes_at
    group by cohort.loan_id, cohort.as_of
),

final as (
    select
        cohort.loan_id,
        cohort.as_of,
        cohort.dpd,
        cohort.next_as_of,
        next_snap.dpd as next_dpd,
        coalesce(window_contacts.is_attempted, false) as is_attempted,
        coalesce(window_contacts.is_reached, false) as is_reached,
        coalesce(window_contacts.is_rpc, false) as is_rpc,
        coalesce(window_contacts.is_ptp, false) as is_ptp,
        coalesce(window_contacts.has_reminder, false) as has_reminder,
        coalesce(window_contacts.has_phone, false) as has_phone,
        coalesce(window_contacts.has_visit, false) as has_visit,
        coalesce(window_contacts.has_legal, false) as has_legal,
        window_contacts.first_strategy,
        window_payments.paid_amount::decimal(18, 2) as paid_amount,
        loans.product,
        loans.region,
        loans.risk_grade
    from cohort
    left join window_contacts
        on cohort.loan_id = window_contacts.loan_id and cohort.as_of = window_contacts.as_of
    left join window_payments
        on cohort.loan_id = window_payments.loan_id and cohort.as_of = window_payments.as_of
    left join snapshots as next_snap
        on cohort.loan_id = next_snap.loan_id and cohort.next_as_of = next_snap.as_of
    left join loans on cohort.loan_id = loans.loan_id
)

select * from final
order by as_of, loan_id
