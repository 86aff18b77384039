-- Rule breaches in the complaint's customer contact log (all the customer's loans) in the 30 days
-- before the complaint was received, under a rule pack. matches_issue marks breaches of a rule that
-- bears out the complaint's issue (policy_issue_rules); is_supported is true on every row when any
-- breach matches: the complaint is "supported by contact data". No rows: no breaches at all.
-- param: complaint_id text
-- param: pack text = cn
with

complaint as (
    select
        complaints.complaint_id,
        complaints.issue,
        complaints.received_at,
        coalesce(complaints.customer_id, loans.customer_id) as customer_id
    from complaints
    left join loans on complaints.loan_id = loans.loan_id
    where complaints.complaint_id = $complaint_id
    limit 1
),

breaches as (
    select policy_breach_facts.*
    from policy_breach_facts
    inner join complaint
        on
            policy_breach_facts.customer_id = complaint.customer_id
            and policy_breach_facts.contact_at >= complaint.received_at - interval 30 days
            and policy_breach_facts.contact_at < complaint.received_at
    where policy_breach_facts.pack = $pack
),

matched as (
    select
        complaint.complaint_id,
        complaint.issue,
        breaches.rule,
        breaches.contact_id,
        breaches.loan_id,
        breaches.contact_at,
        breaches.local_time,
        breaches.channel,
        breaches.outcome,
        breaches.agent_id,
        exists (
            select 1
            from policy_issue_rules
            where policy_issue_rules.issue = complaint.issue and policy_issue_rules.rule = breaches.rule
        ) as matches_issue
    from breaches
    cross join complaint
),

final as (
    select
        *,
        bool_or(matches_issue) over () as is_supported
    from matched
    order by contact_at, contact_id, rule
)

select * from final
