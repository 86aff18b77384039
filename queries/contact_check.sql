-- Pre-contact check (DOMAIN.md, Pre-contact check): would the rule pack allow this planned contact,
-- given the contact log? One row per rule that blocks it (allowed = false, with the reason in plain
-- words and the earliest instant the same contact would be allowed), or one row allowed = true with
-- rule null. `at` without an offset is the debtor's local time; `pack` defaults to the active pack;
-- `collectors` is for visits (none named counts as one); `lang` is the reasons' language.
-- The rules are the audit engine's, applied by portal/prevention (installed as the SQL function
-- contact_check_rules on every connection the portal opens: one engine for this query, the
-- check-contacts command, the Plan check page and the API). This query finds the loan's debtor and
-- reads only that debtor's contacts near `at` from the derived table contact_check_log, through its
-- zone maps (the debtor's hash reaches the scan as a dynamic filter of the join).
-- param: loan_id text
-- param: channel text in sms|app|phone|letter|social|visit|legal
-- param: party text = debtor in debtor|third_party
-- param: at timestamp
-- param: pack text = null
-- param: collectors int = null
-- param: lang text = en in en|zh
with

requested as (
    select coalesce($pack::varchar, contact_check_active_pack()) as pack
),

settings as (
    select
        coalesce(rule_packs.pack, error('unknown rule pack ' || requested.pack)) as pack,
        rule_packs.rules,
        rule_packs.timezone_default,
        rule_packs.quiet_start_s,
        rule_packs.quiet_end_s,
        rule_packs.exempt_channels,
        rule_packs.connected_calls_per_day,
        rule_packs.unanswered_calls_per_day,
        rule_packs.third_party_after_rpc_days,
        rule_packs.visit_min_collectors,
        rule_packs.calls_in_window,
        rule_packs.call_window_days,
        rule_packs.no_call_after_conversation_days
    from requested
    left join rule_packs on requested.pack = rule_packs.pack
),

debtor as (
    select
        loan_id,
        customer_id,
        customer_hash,
        timezone,
        opted_out_channels
    from contact_check_debtors
    where loan_hash = hash($loan_id::varchar) and loan_id = $loan_id::varchar
),

planned as (
    select
        coalesce(debtor.loan_id, error('unknown loan_id ' || $loan_id::varchar)) as loan_id,
        debtor.customer_id,
        debtor.customer_hash,
        coalesce(debtor.timezone, settings.timezone_default) as tz,
        debtor.opted_out_channels,
        case
            when typeof($at) like '%WITH TIME ZONE' then $at::timestamptz
            else timezone(coalesce(debtor.timezone, settings.timezone_default), $at::timestamp)
        end as at_ts,
        case
            when $collectors::bigint < 1 then error('collectors must be at least 1')
            when $collectors::bigint is not null and $channel::varchar <> 'visit'
                then error('collectors is only for visits')
            else $collectors::bigint
        end as collectors
    from settings
    left join debtor on true
),

recent as (
    select
        planned.loan_id,
        planned.customer_id,
        planned.tz,
        planned.opted_out_channels,
        planned.at_ts,
        planned.collectors,
        list(
            {'at_us': epoch_us(log.contact_at), 'loan_id': log.loan_id, 'kind': log.kind}
            order by log.contact_at
        ) filter (where log.contact_at is not null) as entries
    from planned
    left join contact_check_log as log
        on
            planned.customer_hash = log.customer_hash
            and planned.customer_id = log.customer_id
            -- portal/prevention: LOOKBACK_DAYS before, HORIZON_DAYS + LOOKBACK_DAYS after
            and log.contact_at >= planned.at_ts - interval 32 days
            and log.contact_at < planned.at_ts + interval 94 days
    group by all
),

verdict as (
    select
        unnest(
            contact_check_rules(
                (select settings from settings),
                {
                    'loan_id': recent.loan_id,
                    'channel': $channel::varchar,
                    'party': $party::varchar,
                    'at_us': epoch_us(recent.at_ts),
                    'collectors': recent.collectors
                },
                {'customer_id': recent.customer_id, 'tz': recent.tz, 'opted_out_channels': recent.opted_out_channels},
                recent.entries,
                $lang::varchar
            )
        ) as result
    from recent
),

final as (
    select
        result.allowed,
        result.rule,
        result.reason,
        make_timestamptz(result.next_allowed_us) as next_allowed_at
    from verdict
)

select * from final
