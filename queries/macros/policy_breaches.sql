-- The contact-policy engine: one row per (contact, rule it breaks) for the contacts whose contact_at is
-- in [period_start, period_end), under the rule pack `pack_name` (a row of rule_packs).
-- only_customer restricts the work to one debtor's loans (complaint evidence); null means everyone.
-- Installed as a table macro by portal/policy.py (re-created when this file changes), so the named
-- queries policy_violations, policy_violation_details, policy_league, policy_violations_by_month,
-- policy_what_if and complaint_breaches share one definition.
--
-- Speed (20M contacts on 2 cores): time is epoch microseconds (no time-zone arithmetic per row except
-- for zones with a DST change in the period), the window rules sort one subset each on 64-bit hash keys
-- without PARTITION BY (a lag that lands on another debtor/loan simply does not match), and a running
-- max over a (loan hash, time) key finds the last right-party contact.
create or replace macro policy_breaches(pack_name, period_start, period_end, only_customer) as table
with

settings as (
    select
        *,
        -- window rules look back this far before the period, and a local day can start a day earlier
        to_days(
            greatest(
                coalesce(third_party_after_rpc_days, 0),
                coalesce(call_window_days, 0),
                coalesce(no_call_after_conversation_days, 0)
            ) + 2
        ) as lookback
    from rule_packs
    where pack = pack_name
),

debtor_loans as (
    select
        loans.loan_id,
        loans.customer_id,
        coalesce(customers.timezone, settings.timezone_default) as tz
    from loans
    cross join settings
    left join (select distinct on (customer_id) customer_id, timezone from customers) as customers
        on loans.customer_id = customers.customer_id
    where only_customer is null or loans.customer_id = only_customer
),

zones as (
    select distinct tz from debtor_loans
    union
    select timezone_default from settings
),

-- offset of each zone, sampled hourly over the period: a zone with one offset throughout is
-- converted by adding it, the others (DST changes inside the period) through timezone()
zone_offsets as (
    select
        zones.tz,
        min(epoch_us(timezone(zones.tz, samples.sampled_at)) - epoch_us(samples.sampled_at)) as min_offset_us,
        max(epoch_us(timezone(zones.tz, samples.sampled_at)) - epoch_us(samples.sampled_at)) as max_offset_us
    from zones
    cross join settings
    cross join generate_series(
        period_start::timestamptz - settings.lookback,
        period_end::timestamptz + interval 1 day,
        interval 1 hour
    ) as samples (sampled_at)
    group by zones.tz
),

scoped as (
    select
        contact_id,
        loan_id,
        contact_at,
        epoch_us(contact_at) as at_us,
        channel,
        party,
        outcome,
        agent_id,
        agency_id,
        collectors,
        ptp_amount
    from contacts
    where
        contact_at >= period_start::timestamptz - (select lookback from settings)
        and contact_at < period_end::timestamptz
        and (only_customer is null or loan_id in (select loan_id from debtor_loans))
),

located as (
    select
        scoped.*,
        debtor_loans.customer_id,
        -- a loan without a customer record is its own debtor
        coalesce(debtor_loans.customer_id, '#loan:' || scoped.loan_id) as debtor_key,
        case
            when zone_offsets.min_offset_us = zone_offsets.max_offset_us
                then scoped.at_us + zone_offsets.min_offset_us
            else epoch_us(timezone(zone_offsets.tz, scoped.contact_at))
        end as local_us
    from scoped
    cross join settings
    left join debtor_loans on scoped.loan_id = debtor_loans.loan_id
    left join zone_offsets on coalesce(debtor_loans.tz, settings.timezone_default) = zone_offsets.tz
),

quiet_hours as (
    select
        located.*,
        'quiet_hours' as rule
    from located
    cross join settings
    where
        list_contains(settings.rules, 'quiet_hours')
        and not list_contains(settings.exempt_channels, located.channel)
        and (
            case
                when settings.quiet_start_s > settings.quiet_end_s
                    then
                        (located.local_us // 1000000) % 86400 >= settings.quiet_start_s
                        or (located.local_us // 1000000) % 86400 < settings.quiet_end_s
                else
                    (located.local_us // 1000000) % 86400 >= settings.quiet_start_s
                    and (located.local_us // 1000000) % 86400 < settings.quiet_end_s
            end
        )
),

cap_calls as (
    select
        located.*,
        case when located.outcome = 'no_answer' then 1 else 0 end as cap_kind,
        case
            when located.outcome = 'no_answer' then settings.unanswered_calls_per_day
            else settings.connected_calls_per_day
        end as cap,
        hash(located.debtor_key) as debtor_hash,
        located.local_us // 86400000000 as local_day
    from located
    cross join settings
    where
        located.channel = 'phone'
        and (
            (located.outcome = 'no_answer' and list_contains(settings.rules, 'unanswered_calls_per_day'))
            or (
                located.party = 'debtor'
                and located.outcome in ('rpc', 'ptp', 'refused')
                and list_contains(settings.rules, 'connected_calls_per_day')
            )
        )
),

-- ordered by debtor and local day, a call is beyond the cap when the call `cap` places before it is
-- the same debtor, day and kind: each contact beyond a cap counts once
cap_ranked as (
    select
        *,
        coalesce(
            lag(debtor_hash, cap) over by_debtor_day = debtor_hash
            and lag(debtor_key, cap) over by_debtor_day = debtor_key
            and lag(local_day, cap) over by_debtor_day = local_day
            and lag(cap_kind, cap) over by_debtor_day = cap_kind,
            false
        ) as is_beyond_cap
    from cap_calls
    window by_debtor_day as (order by cap_kind, debtor_hash, local_day, at_us, hash(contact_id))
),

daily_caps as (
    select
        * exclude (cap_kind, cap, debtor_hash, local_day, is_beyond_cap),
        case
            when cap_kind = 1 then 'unanswered_calls_per_day' else 'connected_calls_per_day'
        end as rule
    from cap_ranked
    where is_beyond_cap
),

third_party_events as (
    select
        located.*,
        hash(located.loan_id) as loan_hash,
        located.outcome in ('rpc', 'ptp', 'refused') as is_rpc,
        settings.third_party_after_rpc_days * 86400000000 as window_us
    from located
    cross join settings
    where
        list_contains(settings.rules, 'third_party_contact')
        and (located.party = 'third_party' or located.outcome in ('rpc', 'ptp', 'refused'))
),

-- the last right-party contact before each event on the same loan: a running max of
-- (loan hash << 64 | time) over rows ordered by loan hash and time
third_party_ranked as (
    select
        *,
        max(
            case when is_rpc then (loan_hash::uhugeint << 64) + at_us::uhugeint end
        ) over (
            order by loan_hash, at_us, hash(contact_id)
            rows between unbounded preceding and 1 preceding
        ) as last_rpc_key
    from third_party_events
),

third_party_contact as (
    select
        * exclude (loan_hash, is_rpc, window_us, last_rpc_key),
        'third_party_contact' as rule
    from third_party_ranked
    where
        party = 'third_party'
        and (last_rpc_key >> 64)::ubigint = loan_hash
        and at_us - (last_rpc_key & 18446744073709551615::uhugeint)::bigint <= window_us
),

visit_collectors as (
    select
        located.*,
        'visit_collectors' as rule
    from located
    cross join settings
    where
        list_contains(settings.rules, 'visit_collectors')
        and located.channel = 'visit'
        and located.collectors < settings.visit_min_collectors
),

phone_calls as (
    select
        located.*,
        hash(located.loan_id) as loan_hash,
        located.outcome in ('rpc', 'ptp', 'refused') as is_rpc,
        list_contains(settings.rules, 'calls_7_in_7') as checks_window,
        list_contains(settings.rules, 'call_after_conversation') as checks_conversation,
        coalesce(settings.calls_in_window, 0) as calls_in_window,
        coalesce(settings.call_window_days, 0) * 86400000000 as window_us,
        coalesce(settings.no_call_after_conversation_days, 0) * 86400000000 as conversation_us
    from located
    cross join settings
    where
        located.channel = 'phone'
        and (
            list_contains(settings.rules, 'calls_7_in_7')
            or list_contains(settings.rules, 'call_after_conversation')
        )
),

-- one sort serves both per-loan rules: more than N calls in (t - W, t] means the call N places
-- earlier on the same loan is later than t - W
phone_ranked as (
    select
        *,
        coalesce(
            lag(loan_hash, calls_in_window) over by_loan = loan_hash
            and lag(loan_id, calls_in_window) over by_loan = loan_id
            and lag(at_us, calls_in_window) over by_loan > at_us - window_us,
            false
        ) as is_over_window,
        max(
            case when is_rpc then (loan_hash::uhugeint << 64) + at_us::uhugeint end
        ) over (by_loan rows between unbounded preceding and 1 preceding) as last_rpc_key
    from phone_calls
    window by_loan as (order by loan_hash, at_us, hash(contact_id))
),

per_loan_calls as (
    select
        * exclude (
            loan_hash, is_rpc, checks_window, checks_conversation, calls_in_window, window_us,
            conversation_us, is_over_window, last_rpc_key
        ),
        'calls_7_in_7' as rule
    from phone_ranked
    where checks_window and is_over_window
    union all
    select
        * exclude (
            loan_hash, is_rpc, checks_window, checks_conversation, calls_in_window, window_us,
            conversation_us, is_over_window, last_rpc_key
        ),
        'call_after_conversation' as rule
    from phone_ranked
    where
        checks_conversation
        and (last_rpc_key >> 64)::ubigint = loan_hash
        and at_us - (last_rpc_key & 18446744073709551615::uhugeint)::bigint <= conversation_us
),

breaches as (
    select * from quiet_hours
    union all by name
    select * from daily_caps
    union all by name
    select * from third_party_contact
    union all by name
    select * from visit_collectors
    union all by name
    select * from per_loan_calls
),

final as (
    select
        rule,
        contact_id,
        loan_id,
        customer_id,
        contact_at,
        make_timestamp(local_us) as local_time,
        channel,
        outcome,
        agent_id,
        agency_id,
        ptp_amount
    from breaches
    where contact_at >= period_start::timestamptz and contact_at < period_end::timestamptz
)

select * from final
