-- Day-level rollup of the contact log for channel_effectiveness: per local calendar day (contact_on,
-- in the portal's time zone; month_end is its month's last day), channel and the loan's product,
-- region and risk grade, the attempts, how many reached the debtor or a third party (delivered,
-- third_party, rpc, ptp, refused), how many were right-party contacts (rpc, ptp, refused) and ptps,
-- and their cost. A period [start, end) of dates is exactly the days start .. end - 1, so summing
-- rows gives the same counts as scanning the log. An upload of contacts recomputes only the months
-- its rows fall in; one of loans rebuilds it.
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

located as (
    select
        quarter_hours.contact_on,
        contacts.channel,
        loans.product,
        loans.region,
        loans.risk_grade,
        contacts.outcome,
        contacts.cost
    from contacts
    inner join quarter_hours on epoch_us(contacts.contact_at) // 900000000 = quarter_hours.q
    left join loans on contacts.loan_id = loans.loan_id
)

select
    last_day(contact_on) as month_end,
    contact_on,
    channel,
    product,
    region,
    risk_grade,
    count(*) as attempts,
    count(*) filter (where outcome in ('delivered', 'third_party', 'rpc', 'ptp', 'refused')) as reached,
    count(*) filter (where outcome in ('rpc', 'ptp', 'refused')) as rpcs,
    count(*) filter (where outcome = 'ptp') as ptps,
    sum(cost)::decimal(18, 2) as cost
from located
group by all
order by month_end, contact_on
