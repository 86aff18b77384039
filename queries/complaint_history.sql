-- Audit-trail events, newest first: of one complaint, or of all complaints when complaint_id is null.
-- param: complaint_id text = null
-- param: max_rows int = 500
with

events as (
    select
        event_id,
        event_at,
        complaint_id,
        actor,
        action,
        field,
        from_value,
        to_value,
        note,
        hash
    from complaint_events
    where $complaint_id::varchar is null or complaint_id = $complaint_id::varchar
),

final as (
    select *
    from events
    order by event_id desc
    limit $max_rows
)

select * from final
order by event_id desc
