-- Contact-policy violations per rule of a rule pack, counted in excess contacts (DOMAIN.md, Policy
-- violations): every rule of the pack has a row, 0 where no contact in [start, end) breaks it.
-- The engine is the table macro policy_breaches (queries/macros/policy_breaches.sql).
-- param: pack text = cn
-- param: start date
-- param: end date
with

requested as (
    select $pack::varchar as pack
),

pack_rules as (
    select
        unnest(coalesce(rule_packs.rules, error('unknown rule pack ' || requested.pack))) as rule,
        generate_subscripts(rule_packs.rules, 1) as rule_order
    from requested
    left join rule_packs on requested.pack = rule_packs.pack
),

breaches as (
    select * from policy_breaches($pack, $start::timestamptz, $end::timestamptz, null)
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
