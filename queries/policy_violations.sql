-- Contact-policy violations per rule of a rule pack, counted in excess contacts (DOMAIN.md, Policy
-- violations): every rule of the pack has a row, 0 where no contact in [start, end) breaks it.
-- Reads the breaches the engine (queries/macros/policy_breaches.sql) wrote at load time into
-- policy_breach_facts (portal/policy.py); an unknown pack is an error.
-- param: pack text = cn
-- param: start date
-- param: end date
with

requested as (
    select $pack::varchar as pack
),

pack_rules as (
    select
        coalesce(policy_pack_rules.rule, error('unknown rule pack ' || requested.pack)) as rule,
        policy_pack_rules.rule_order
    from requested
    left join policy_pack_rules on requested.pack = policy_pack_rules.pack
),

breaches as (
    select
        rule,
        loan_id,
        agent_id
    from policy_breach_facts
    where pack = $pack and contact_at >= $start::timestamptz and contact_at < $end::timestamptz
),

counted as (
    select
        rule,
        count(*) as violations,
        count(distinct loan_id) as loans_affected,
        count(distinct agent_id) as agents_affected
    from breaches
    group by rule
),

final as (
    select
        pack_rules.rule,
        coalesce(counted.violations, 0) as violations,
        coalesce(counted.loans_affected, 0) as loans_affected,
        coalesce(counted.agents_affected, 0) as agents_affected
    from pack_rules
    left join counted on pack_rules.rule = counted.rule
    order by pack_rules.rule_order
)

select * from final
