-- What each channel did for each loan in the month after a month-end M (after M, up to the next
-- month-end, portal timezone): attempts and their cost, the amount recovered (each payment goes to
-- the last reaching contact on its loan in the 7 days before it, as in channel_effectiveness) and
-- the complaints about the channel on that loan received in the month. Joined to risk segments at M
-- to recommend a channel mix per segment.
-- param: start date = null
-- param: end date = null
with

month_ends as (
    select distinct as_of from snapshots
    where
        ($start::date is null or as_of >= $start::date)
        and ($end::date is null or as_of < $end::date)
),

windows as (
    select
        as_of,
        (as_of + 1)::timestamptz as opens_at,
        (last_day(as_of + 1) + 1)::timestamptz as closes_at
    from month_ends
),

window_contacts as (
    select
        contacts.loan_id,
        windows.as_of,
        contacts.channel,
        count(*) as attempts,
        sum(contacts.cost) as cost
    from contacts
    inner join windows on contacts.contact_at >= windows.opens_at and contacts.contact_at < windows.closes_at
    group by contacts.loan_id, windows.as_of, contacts.channel
),

attributed as (
    -- the derived table payment_attribution (queries/derived/) holds each payment's contact
    select
        payment_attribution.loan_id,
        windows.as_of,
        payment_attribution.channel,
        sum(payment_attribution.amount) as recovered_amount
    from payment_attribution
    inner join windows
        on payment_attribution.paid_at >= windows.opens_at and payment_attribution.paid_at < windows.closes_at
    where payment_attribution.contact_id is not null
    group by payment_attribution.loan_id, windows.as_of, payment_attribution.channel
),

window_complaints as (
    select
        complaints.loan_id,
        windows.as_of,
        complaints.channel,
        count(*) as complaints
    from complaints
    inner join windows on complaints.received_at >= windows.opens_at and complaints.received_at < windows.closes_at
    where complaints.loan_id is not null and complaints.channel is not null
    group by complaints.loan_id, windows.as_of, complaints.channel
),

final as (
    select
        window_contacts.loan_id,
        window_contacts.as_of,
        window_contacts.channel,
        window_contacts.attempts::bigint as attempts,
        window_contacts.cost::decimal(18, 2) as cost,
        coalesce(attributed.recovered_amount, 0)::decimal(18, 2) as recovered_amount,
        coalesce(window_complaints.complaints, 0)::bigint as complaints
    from window_contacts
    left join attributed
        on
            window_contacts.loan_id = attributed.loan_id
            and window_contacts.as_of = attributed.as_of
            and window_contacts.channel = attributed.channel
    left join window_complaints
        on
            window_contacts.loan_id = window_complaints.loan_id
            and window_contacts.as_of = window_complaints.as_of
            and window_contacts.channel = window_complaints.channel
)

select * from final
order by as_of, loan_id, channel
