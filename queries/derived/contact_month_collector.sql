-- Month-level rollup of the contact log for collector_scorecard: per calendar month (month_end is its
-- last day, in the portal's time zone), collector and the loan's product, region and risk grade, the
-- attempts, reached (delivered, third_party, rpc, ptp, refused), right-party (rpc, ptp, refused) and
-- ptp contacts and their cost. Each contact counts twice: once for its agent (kind = agent, contacts
-- without one are left out) and once for its agency (kind = agency, an empty agency is in-house:
-- `in_house`). The scorecard sums the months wholly inside its period from here and reads the
-- contact log only for the days at its edges. An upload of contacts recomputes only the months its
-- rows fall in; one of loans rebuilds it.
-- derived: reads loans, contacts
-- derived: key month_end
with

quarter_hours as (
    -- the local month of every UTC quarter-hour the log spans: time-zone offsets are whole
    -- quarter-hours, so none straddles a local midnight, and converting these few is far cheaper than
    -- every contact
    select
        q,
        last_day(to_timestamp(q * 900)::date) as month_end
    -- the quarter-hours that hold a contact (a plain distinct, portable to Spark)
    from (select distinct epoch_us(contact_at) // 900000000 as q from contacts) as present
),

by_month as (
    -- one pass over the log (and one join with loans); both kinds are summed from these groups
    select
        quarter_hours.month_end,
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
        month_end,
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
    from by_month
    where agent_id is not null
    group by all
    union all
    select
        month_end,
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
    from by_month
    group by all
)

select
    month_end,
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
order by month_end, kind
