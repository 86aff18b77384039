-- Improvement actions, newest start first: what was changed, for which root cause and segment,
-- the KPI it targets and where it stands (planned, in_progress, done, reviewed).
-- param: status text = null in planned|in_progress|done|reviewed
with

actions as (
    select
        action_id,
        title,
        root_cause,
        owner,
        start_on,
        change_made,
        target_kpi,
        target_value,
        status,
        segment_kind,
        segment_value,
        created_by,
        created_at
    from improvement_actions
),

final as (
    select *
    from actions
    where $status::varchar is null or status = $status::varchar
)

select * from final
order by start_on desc, action_id desc
