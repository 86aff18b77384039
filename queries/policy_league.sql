-- League table of collectors: per agent and per agency (null agency = in-house), the contacts they made
-- in [start, end), the rule breaches among them and breaches per 1,000 contacts, worst first.
-- Contacts without an agent (automated reminders) form the agent row with a null id.
-- param: pack text = cn
-- param: start date
-- param: end date
with

breaches as (
    select
        agent_id,
        agency_id
    from policy_breach_facts
    where pack = $pack and contact_at >= $start::timestamptz and contact_at < $end::timestamptz
),

period_contacts as (
    select
        agent_id,
        agency_id
    from contacts
    where contact_at >= $start::timestamptz and contact_at < $end::timestamptz
),

contacts_by_agent as (
    select
        'agent' as level,
        agent_id as id,
        count(*) as contacts
    from period_contacts
    group by agent_id
),

contacts_by_agency as (
    select
        'agency' as level,
        agency_id as id,
        count(*) as contacts
    from period_contacts
    group by agency_id
),

breaches_by_agent as (
    select
        'agent' as level,
        agent_id as id,
        count(*) as violations
    from breaches
    group by agent_id
),

breaches_by_agency as (
    select
        'agency' as level,
        agency_id as id,
        count(*) as violations
    from breaches
    group by agency_id
),

contact_counts as (
    select * from contacts_by_agent
    union all
    select * from contacts_by_agency
),

breach_counts as (
    select * from breaches_by_agent
    union all
    select * from breaches_by_agency
),

final as (
    select
        contact_counts.level,
        contact_counts.id,
        contact_counts.contacts,
        coalesce(breach_counts.violations, 0) as violations,
        round(1000.0 * coalesce(breach_counts.violations, 0) / contact_counts.contacts, 2)
            as violations_per_1000
    from contact_counts
    left join breach_counts
        on
            contact_counts.level = breach_counts.level
            and contact_counts.id is not distinct from breach_counts.id
    order by contact_counts.level desc, violations_per_1000 desc, contact_counts.contacts desc, contact_counts.id
)

select * from final
