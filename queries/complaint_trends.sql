-- Complaints per month of receipt, split by issue, channel, agency or source.
-- A missing channel or agency is shown as (none); agency empty means in-house.
-- param: start date = null
-- param: end date = null
-- param: split text = issue in issue|channel|agency|source
with

complaints_in_period as (
    select
        date_trunc('month', received_at)::date as month,
        case $split
            when 'issue' then issue
            when 'channel' then channel
            when 'agency' then agency_id
            else source
        end as split_value
    from complaints
    where
        ($start::date is null or received_at >= $start::date)
        and ($end::date is null or received_at < $end::date)
),

final as (
    select
        month,
        coalesce(split_value, '(none)') as value,
        count(*) as complaints
    from complaints_in_period
    group by month, coalesce(split_value, '(none)')
)

select * from final
order by month, value
