-- Complaint deadlines per issue, for complaints received in [start, end) (portal timezone).
-- due_at = received_at + 15 days + extension_days. resolved: status resolved/closed or a resolved_at.
-- timely: resolved_at <= due_at; an import without resolved_at (CFPB) counts as timely when its
-- "Timely response?" is Yes. timely_rate = timely / resolved (null when nothing is resolved).
-- open_overdue: still new/triaged/investigating and past due_at at as_of (default: now).
-- param: start date
-- param: end date
-- param: as_of timestamp = null
with

complaints_in_period as (
    select
        issue,
        status,
        received_at,
        resolved_at,
        timely_response,
        received_at + to_days(15 + coalesce(extension_days, 0)) as due_at
    from complaints
    where
        received_at >= $start::date
        and received_at < $end::date
),

flagged as (
    select
        issue,
        (status in ('resolved', 'closed') or resolved_at is not null) as is_resolved,
        case
            when resolved_at is not null then resolved_at <= due_at
            when status in ('resolved', 'closed') then coalesce(lower(timely_response) = 'yes', false)
            else false
        end as is_timely,
        epoch(resolved_at - received_at) / 86400.0 as days_to_resolve,
        (
            status in ('new', 'triaged', 'investigating')
            and due_at < coalesce($as_of::timestamptz, now())
        ) as is_open_overdue
    from complaints_in_period
),

counted as (
    select
        issue,
        count(*) as complaints,
        count(*) filter (where is_resolved) as resolved,
        count(*) filter (where is_timely) as timely,
        median(days_to_resolve) as median_days_to_resolve,
        count(*) filter (where is_open_overdue) as open_overdue
    from flagged
    group by issue
),

final as (
    select
        issue,
        complaints,
        resolved,
        timely,
        case when resolved > 0 then timely / resolved end as timely_rate,
        round(median_days_to_resolve, 2) as median_days_to_resolve,
        open_overdue
    from counted
)

select * from final
order by issue
