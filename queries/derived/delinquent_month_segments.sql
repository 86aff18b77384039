-- For complaint_rates' overdue accounts per contact segment: one row per delinquent loan-month (a
-- snapshot with DPD >= 1 at a month-end as_of; month is the first day of the calendar month after it,
-- in the portal's time zone), kind (agency, agent, strategy, channel) and segment the loan had a
-- contact of in that month, with day_mask: bit d - 1 is set when such a contact fell on local day d of
-- the month. A period [start, end) keeps the loan-month when day_mask shares a bit with the period's
-- days of that month, so a period inside a month counts exactly. Segments as in complaint_rates: an
-- empty agency is `in_house`, an empty agent or strategy `none`.
-- derived: reads snapshots, contacts
-- derived: key loan_id
with

quarter_hours as (
    -- the local day of every UTC quarter-hour the log spans: time-zone offsets are whole quarter-hours,
    -- so none straddles a local midnight, and converting these few is far cheaper than every contact
    select
        q,
        to_timestamp(q * 900)::date as contact_on
    -- the quarter-hours that hold a contact (a plain distinct, portable to Spark)
    from (select distinct epoch_us(contact_at) // 900000000 as q from contacts) as present
),

cohort as (
    -- a month-end snapshot opens the month after it; any other as_of opens no calendar month
    select distinct
        loan_id,
        (as_of + 1) as month,
        (as_of + 1)::timestamptz as opens_at,
        (last_day(as_of + 1) + 1)::timestamptz as closes_at
    from snapshots
    where dpd >= 1 and dayofmonth(as_of + 1) = 1
),

by_contact as (
    -- one group per loan-month and combination of segments: the kinds are folded from these
    select
        cohort.loan_id,
        cohort.month,
        coalesce(nullif(contacts.agency_id, ''), 'in_house') as agency,
        coalesce(nullif(contacts.agent_id, ''), 'none') as agent,
        coalesce(nullif(contacts.strategy, ''), 'none') as strategy,
        contacts.channel,
        bit_or(1 << (dayofmonth(quarter_hours.contact_on) - 1)) as day_mask
    from contacts
    inner join quarter_hours on epoch_us(contacts.contact_at) // 900000000 = quarter_hours.q
    inner join cohort
        on
            contacts.loan_id = cohort.loan_id
            and contacts.contact_at >= cohort.opens_at
            and contacts.contact_at < cohort.closes_at
    group by all
),

by_segment as (
    select
        loan_id,
        month,
        'agency' as kind,
        agency as segment,
        bit_or(day_mask) as day_mask
    from by_contact
    group by all
    union all
    select
        loan_id,
        month,
        'agent' as kind,
        agent as segment,
        bit_or(day_mask) as day_mask
    from by_contact
    group by all
    union all
    select
        loan_id,
        month,
        'strategy' as kind,
        strategy as segment,
        bit_or(day_mask) as day_mask
    from by_contact
    group by all
    union all
    select
        loan_id,
        month,
        'channel' as kind,
        channel as segment,
        bit_or(day_mask) as day_mask
    from by_contact
    group by all
)

select
    loan_id,
    month,
    kind,
    segment,
    day_mask::integer as day_mask
from by_segment
order by kind, month
