-- Each contact in [start, end) that breaks a rule of the pack, with the rule, for drill-down and export.
-- A contact breaking two rules appears once per rule. Local time is the debtor's wall-clock time.
-- param: pack text = cn
-- param: start date
-- param: end date
-- param: rule text = null
-- param: agent_id text = null
-- param: agency_id text = null
-- param: loan_id text = null
-- param: customer_id text = null
-- param: channel text = null
-- param: row_limit int = null
with

breaches as (
    select *
    from policy_breach_facts
    where
        pack = $pack
        and contact_at >= $start::timestamptz
        and contact_at < $end::timestamptz
        and ($customer_id::varchar is null or customer_id = $customer_id::varchar)
),

final as (
    select
        contact_id,
        loan_id,
        customer_id,
        contact_at,
        local_time,
        channel,
        outcome,
        agent_id,
        agency_id,
        rule
    from breaches
    where
        ($rule::varchar is null or rule = $rule::varchar)
        and ($agent_id::varchar is null or agent_id = $agent_id::varchar)
        and ($agency_id::varchar is null or agency_id = $agency_id::varchar)
        and ($loan_id::varchar is null or loan_id = $loan_id::varchar)
        and ($channel::varchar is null or channel = $channel::varchar)
)

select * from final
order by contact_at, contact_id, rule
-- the page shows the first rows and fetches the rest only for a download (null: every row)
limit $row_limit
