-- Complaints received in [start, end) grouped by root cause (or by issue, channel, agent, agency or
-- strategy), most frequent first, with each group's share and the cumulative share for a Pareto chart.
-- A complaint not yet traced to a root cause (or without the grouped field) falls in 'unassigned'.
-- A complaint's strategy is that of the last contact on its loan at or before it was received, kept on
-- load in the derived table complaint_last_contact (queries/derived/).
-- param: start date = null
-- param: end date = null
-- param: group_by text = root_cause in root_cause|issue|channel|agent|agency|strategy
with

period_complaints as (
    select
        complaint_id,
        root_cause,
        issue,
        channel,
        agent_id,
        agency_id
    from complaints
    where
        ($start::date is null or received_at >= $start::date::timestamptz)
        and ($end::date is null or received_at < $end::date::timestamptz)
),

labelled as (
    select
        coalesce(nullif(trim(case $group_by
            when 'root_cause' then period_complaints.root_cause
            when 'issue' then period_complaints.issue
            when 'channel' then period_complaints.channel
            when 'agent' then period_complaints.agent_id
            when 'agency' then coalesce(nullif(period_complaints.agency_id, ''), 'in_house')
            when 'strategy' then complaint_last_contact.strategy
        end), ''), 'unassigned') as value
    from period_complaints
    left join complaint_last_contact on period_complaints.complaint_id = complaint_last_contact.complaint_id
),

grouped as (
    select
        value,
        count(*) as complaints
    from labelled
    group by value
),

final as (
    select
        $group_by::varchar as dimension,
        value,
        complaints::bigint as complaints,
        (complaints / sum(complaints) over ())::double as share,
        (
            sum(complaints) over (order by complaints desc, value rows unbounded preceding)
            / sum(complaints) over ()
        )::double as cumulative_share
    from grouped
)

select * from final
order by complaints desc, value
