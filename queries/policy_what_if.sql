-- What-if: compare a base pack with a stricter one (often a scenario pack stored by policy.what_if).
-- Per rule of `pack`, and in a final row `all` (distinct contacts), the violations under each pack, the
-- contacts only the stricter pack would have blocked, the payments on the same loan within 7 days after
-- a newly blocked contact (each payment once) and the promises to pay made at newly blocked contacts.
-- param: base_pack text = cn
-- param: pack text = cn_strict
-- param: start date
-- param: end date
with

scenario_rules as (
    select
        unnest(rules) as rule,
        generate_subscripts(rules, 1) as rule_order
    from rule_packs
    where pack = $pack
),

base_breaches as (
    select
        rule,
        contact_id
    from policy_breaches($base_pack, $start::timestamptz, $end::timestamptz, null)
),

scenario_breaches as (
    select * from policy_breaches($pack, $start::timestamptz, $end::timestamptz, null)
),

newly_blocked as (
    select scenario_breaches.*
    from scenario_breaches
    anti join base_breaches
        on
            scenario_breaches.rule = base_breaches.rule
            and scenario_breaches.contact_id = base_breaches.contact_id
),

newly_blocked_contacts as (
    select
        contact_id,
        any_value(loan_id) as loan_id,
        any_value(contact_at) as contact_at,
        any_value(outcome) as outcome,
        any_value(ptp_amount) as ptp_amount
    from scenario_breaches
    where contact_id not in (select contact_id from base_breaches)
    group by contact_id
),

blocked_by_rule as (
    select
        rule,
        contact_id,
        loan_id,
        contact_at,
        outcome,
        ptp_amount
    from newly_blocked
    union all
    select
        'all' as rule,
        contact_id,
        loan_id,
        contact_at,
        outcome,
        ptp_amount
    from newly_blocked_contacts
),

payments_at_risk as (
    select
        blocked_by_rule.rule,
        payments.payment_id,
        any_value(payments.amount) as amount
    from blocked_by_rule
    inner join payments
        on
            blocked_by_rule.loan_id = payments.loan_id
            and payments.paid_at > blocked_by_rule.contact_at
            and payments.paid_at <= blocked_by_rule.contact_at + interval 7 days
    group by blocked_by_rule.rule, payments.payment_id
),

payment_totals as (
    select
        rule,
        count(*) as payments_at_risk,
        sum(amount) as payment_amount_at_risk
    from payments_at_risk
    group by rule
),

blocked_totals as (
    select
        rule,
        count(*) as newly_blocked,
        count(*) filter (where outcome = 'ptp') as ptps_at_risk,
        coalesce(sum(ptp_amount) filter (where outcome = 'ptp'), 0) as ptp_amount_at_risk
    from blocked_by_rule
    group by rule
),

violation_totals as (
    select
        'scenario' as side,
        rule,
        count(*) as violations
    from scenario_breaches
    group by rule
    union all
    select
        'scenario' as side,
        'all' as rule,
        count(distinct contact_id) as violations
    from scenario_breaches
    union all
    select
        'base' as side,
        rule,
        count(*) as violations
    from base_breaches
    group by rule
    union all
    select
        'base' as side,
        'all' as rule,
        count(distinct contact_id) as violations
    from base_breaches
),

rows_wanted as (
    select
        rule,
        rule_order
    from scenario_rules
    union all
    select
        'all' as rule,
        1000 as rule_order
),

final as (
    select
        rows_wanted.rule,
        coalesce(base_side.violations, 0) as base_violations,
        coalesce(scenario_side.violations, 0) as scenario_violations,
        coalesce(blocked_totals.newly_blocked, 0) as newly_blocked,
        coalesce(payment_totals.payments_at_risk, 0) as payments_at_risk,
        cast(coalesce(payment_totals.payment_amount_at_risk, 0) as decimal(18, 2)) as payment_amount_at_risk,
        coalesce(blocked_totals.ptps_at_risk, 0) as ptps_at_risk,
        cast(coalesce(blocked_totals.ptp_amount_at_risk, 0) as decimal(18, 2)) as ptp_amount_at_risk
    from rows_wanted
    left join violation_totals as base_side
        on rows_wanted.rule = base_side.rule and base_side.side = 'base'
    left join violation_totals as scenario_side
        on rows_wanted.rule = scenario_side.rule and scenario_side.side = 'scenario'
    left join blocked_totals on rows_wanted.rule = blocked_totals.rule
    left join payment_totals on rows_wanted.rule = payment_totals.rule
    order by rows_wanted.rule_order
)

select * from final
