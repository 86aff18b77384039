-- Violations per calendar month (portal time zone) and rule, for the trend chart; months and rules
-- without violations are left out.
-- param: pack text = cn
-- param: start date
-- param: end date
with

breaches as (
    select * from policy_breaches($pack, $start::timestamptz, $end::timestamptz, null)
),

final as (
    select
        date_trunc('month', contact_at)::date as month,
        rule,
        count(*) as violations
    from breaches
    group by all
    order by month, rule
)

select * from final
