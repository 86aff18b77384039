-- Day-level rollup of the contact log for collector_scorecard: per local calendar day (contact_on, in
-- the portal's time zone; month_end is its month's last day), collector and the loan's product, region
-- and risk grade, the attempts, reached (delivered, third_party, rpc, ptp, refused), right-party (rpc,
-- ptp, refused) and ptp contacts and their cost. Each contact counts once for its agent (kind = agent,
-- contacts without one are left out) and once for its agency (kind = agency, an empty agency is
-- in-house: `in_house`). A period [start, end) of dates is exactly the days start .. end - 1, so
-- summing rows gives the same counts as scanning the log; the rows are stored in day order, so a short
-- period skips most of the table. An upload of contacts recomputes only the months its rows fall in;
-- one of loans rebuilds it.
-- derived: reads loans, contacts
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
    -- one pass over the log (and one join with loans); both kinds are summed from these groups
    select
        quarter_hours.contact_on,
        contacts.agent_id,
        coalesce(nullif(contacts.agency_id, ''), 'in_house') as agency_id,
        loans.product,
        loans.region,
        loans.risk_grade,
        count(*) as attempts,
        count(*) filter (where contacts.outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused')) as reached,
        count(*) filter (where contacts.outcome in ('rpc', 'ptp', 'refused')) as rpcs,
        count(*) filter (where contacts.outcome = 'ptp') as ptps,
        sum(contacts.cost) as cost
    from contacts
    inner join quarter_hours on epoch_us(contacts.contact_at) // 900000000 = quarter_hours.q
    left join loans on contacts.loan_id = loans.loan_id
    group by all
),

by_collector as (
    select
        contact_on,
        'agent' as kind,
        agent_id as collector_id,
        product,
        region,
        risk_grade,
        sum(attempts) as attempts,
        sum(reached) as reached,
        sum(rpcs) as rpcs,
        sum(ptps) as ptps,
        sum(cost) as cost
    from by_day
    where agent_id is not null
    group by all
    union all
    select
        contact_on,
        'agency' as kind,
        agency_id as collector_id,
        product,
        region,
        risk_grade,
        sum(attempts) as attempts,
        sum(reached) as reached,
        sum(rpcs) as rpcs,
        sum(ptps) as ptps,
        sum(cost) as cost
    from by_day
    group by all
)

select
    last_day(contact_on) as month_end,
    contact_on,
    kind,
    collector_id,
    product,
    region,
    risk_grade,
    attempts::bigint as attempts,
    reached::bigint as reached,
    rpcs::bigint as rpcs,
    ptps::bigint as ptps,
    cost::decimal(18, 2) as cost
from by_collector
order by contact_on, kind
