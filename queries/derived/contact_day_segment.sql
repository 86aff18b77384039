-- Day-level rollup of the contact log by the contact's own segments, for complaint_rates and
-- channel_net_ranking: per local calendar day (contact_on, in the portal's time zone; month_end is its
-- month's last day), kind and segment, the attempts and their cost. Each contact counts once for each
-- kind: agency (an empty agency is in-house: `in_house`), agent and strategy (an empty one is `none`).
-- The loan's segments (product, region) and the channel are in contact_day_channel. A period
-- [start, end) of dates is exactly the days start .. end - 1, so summing rows gives the same counts as
-- scanning the log. An upload of contacts recomputes only the months its rows fall in.
-- derived: reads contacts
-- derived: key month_end
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

by_day as (
    -- one pass over the log; the three kinds are summed from these groups
    select
        quarter_hours.contact_on,
        coalesce(nullif(contacts.agency_id, ''), 'in_house') as agency,
        coalesce(nullif(contacts.agent_id, ''), 'none') as agent,
        coalesce(nullif(contacts.strategy, ''), 'none') as strategy,
        count(*) as attempts,
        sum(contacts.cost) as cost
    from contacts
    inner join quarter_hours on epoch_us(contacts.contact_at) // 900000000 = quarter_hours.q
    group by all
),

by_segment as (
    select
        contact_on,
        'agency' as kind,
        agency as segment,
        sum(attempts) as attempts,
        sum(cost) as cost
    from by_day
    group by all
    union all
    select
        contact_on,
        'agent' as kind,
        agent as segment,
        sum(attempts) as attempts,
        sum(cost) as cost
    from by_day
    group by all
    union all
    select
        contact_on,
        'strategy' as kind,
        strategy as segment,
        sum(attempts) as attempts,
        sum(cost) as cost
    from by_day
    group by all
)

select
    last_day(contact_on) as month_end,
    contact_on,
    kind,
    segment,
    attempts::bigint as attempts,
    cost::decimal(18, 2) as cost
from by_segment
order by contact_on, kind
