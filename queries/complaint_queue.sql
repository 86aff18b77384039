-- The compliance queue: every complaint with its deadline, filterable, soonest due first.
-- days_left counts calendar days (portal timezone) from as_of (default: now) to due_at.
-- param: status text[] = null
-- param: issue text[] = null
-- param: channel text[] = null
-- param: source text[] = null
-- param: agent text = null
-- param: agency text = null
-- param: assignee text = null
-- param: as_of timestamp = null
with

clock as (
    select coalesce($as_of::timestamptz, now()) as as_of
),

filtered as (
    select
        complaint_id,
        ticket,
        received_at,
        source,
        issue,
        sub_issue,
        channel,
        agent_id,
        agency_id,
        status,
        assignee,
        resolved_at,
        timely_response,
        received_at + to_days(15 + coalesce(extension_days, 0)) as due_at
    from complaints
    where
        ($status::varchar [] is null or list_contains($status::varchar [], status))
        and ($issue::varchar [] is null or list_contains($issue::varchar [], issue))
        and ($channel::varchar [] is null or list_contains($channel::varchar [], channel))
        and ($source::varchar [] is null or list_contains($source::varchar [], source))
        and ($agent::varchar is null or agent_id = $agent::varchar)
        and ($agency::varchar is null or agency_id = $agency::varchar)
        and ($assignee::varchar is null or assignee = $assignee::varchar)
),

final as (
    select
        filtered.complaint_id,
        filtered.ticket,
        filtered.received_at,
        filtered.source,
        filtered.issue,
        filtered.sub_issue,
        filtered.channel,
        filtered.agent_id,
        filtered.agency_id,
        filtered.status,
        filtered.assignee,
        filtered.due_at,
        date_diff('day', clock.as_of::date, filtered.due_at::date) as days_left,
        (
            filtered.status in ('new', 'triaged', 'investigating')
            and filtered.due_at < clock.as_of
        ) as is_overdue,
        case
            when filtered.resolved_at is not null then filtered.resolved_at <= filtered.due_at
            when filtered.status in ('resolved', 'closed')
                then coalesce(lower(filtered.timely_response) = 'yes', false)
        end as is_timely
    from filtered
    cross join clock
)

select * from final
order by due_at, complaint_id
