-- Violations per calendar month (portal time zone) and rule, for the trend chart; months and rules
-- without violations are left out.
-- param: pack text = cn
-- param: start date
-- param: end date
with

-- counted per quarter hour first (integer keys), then the few buckets are put in their portal-time
-- month: every UTC offset in use is a whole number of quarter hours, so no bucket straddles a month
breaches as (
    select
        epoch_us(contact_at) // 900000000 as quarter_hour,
        rule,
        count(*) as violations
    from policy_breach_facts
    where pack = $pack and contact_at >= $start::timestamptz and contact_at < $end::timestamptz
    group by all
),

final as (
    select
        date_trunc('month', make_timestamptz(quarter_hour * 900000000))::date as month,
        rule,
        sum(violations)::bigint as violations
    from breaches
    group by all
    order by month, rule
)

select * from final
