-- On-time rate per month of receipt, with the same definitions as complaint_sla.
-- param: start date = null
-- param: end date = null
-- param: as_of timestamp = null
with

complaints_in_period as (
    select
        status,
        received_at,
        resolved_at,
        timely_response,
        date_trunc('month', received_at)::date as month,
        received_at + to_days(15 + coalesce(extension_days, 0)) as due_at
    from complaints
    where
        ($start::date is null or received_at >= $start::date)
        and ($end::date is null or received_at < $end::date)
),

flagged as (
    select
        month,
        (status in ('resolved', 'closed') or resolved_at is not null) as is_resolved,
        case
            when resolved_at is not null then resolved_at <= due_at
            when status in ('resolved', 'closed') then coalesce(lower(timely_response) = 'yes', false)
            else false
        end as is_timely,
        (
            status in ('new', 'triaged', 'investigating')
            and due_at < coalesce($as_of::timestamptz, now())
        ) as is_open_overdue
    from complaints_in_period
),

counted as (
    select
        month,
        count(*) as complaints,
        count(*) filter (where is_resolved) as resolved,
        count(*) filter (where is_timely) as timely,
        count(*) filter (where is_open_overdue) as open_overdue
    from flagged
    group by month
),

final as (
    select
        month,
        complaints,
        resolved,
        timely,
        case when resolved > 0 then timely / resolved end as timely_rate,
        open_overdue
    from counted
)

select * from final
order by month
