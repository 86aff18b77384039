-- The contact-policy engine: one row per (contact, rule it breaks) for the contacts whose contact_at is
-- in [period_start, period_end), under the rule pack `pack_name` (a row of rule_packs).
-- only_customer restricts the work to one debtor's loans (complaint evidence); null means everyone.
-- Installed as a table macro by portal/policy.py (re-created when this file changes). It runs at load
-- time into the derived table policy_breach_facts (portal/policy.py: refresh_facts), which the Conduct
-- and complaint queries read, and live for policy_what_if. Its windows only look back, so the breaches
-- of [start, end) depend only on contacts in [start - lookback, end): refresh_facts relies on it.
--
-- Speed (20M contacts on 2 cores): time is epoch microseconds (no time-zone arithmetic per row except
-- for zones with a DST change in the period); only quiet hours and the daily caps need the debtor, so
-- only they join contacts to loans; caps count per (debtor, local day) with a hash aggregate and rank
-- only the rare groups over the cap; "after a right-party contact" rules are hash joins on (loan,
-- window bucket) instead of sorts; 7-in-7 is one sort of the phone calls on 64-bit hash keys without
-- PARTITION BY (a lag that lands on another loan does not match).
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
        ) as lookback,
        list_contains(rules, 'quiet_hours') as has_quiet_hours,
        list_contains(rules, 'connected_calls_per_day') as has_connected_cap,
        list_contains(rules, 'unanswered_calls_per_day') as has_unanswered_cap,
        list_contains(rules, 'third_party_contact') as has_third_party,
        list_contains(rules, 'visit_collectors') as has_visit_rule,
        list_contains(rules, 'calls_7_in_7') as has_call_window,
        list_contains(rules, 'call_after_conversation') as has_conversation,
        -- a zero-day window still needs a non-zero bucket width
        greatest(coalesce(no_call_after_conversation_days, 0), 1) * 86400000000 as conversation_us
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

period_contacts as not materialized (
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
),

-- each loan with its debtor and, when its zone keeps one offset through the period, that offset
loan_zones as (
    select
        debtor_loans.loan_id,
        debtor_loans.customer_id,
        debtor_loans.tz,
        case
            when zone_offsets.min_offset_us = zone_offsets.max_offset_us then zone_offsets.min_offset_us
        end as fixed_offset_us
    from debtor_loans
    inner join zone_offsets on debtor_loans.tz = zone_offsets.tz
),

default_zone as (
    select
        settings.timezone_default as tz,
        case
            when zone_offsets.min_offset_us = zone_offsets.max_offset_us then zone_offsets.min_offset_us
        end as fixed_offset_us
    from settings
    inner join zone_offsets on settings.timezone_default = zone_offsets.tz
),

-- the contacts quiet hours and the daily caps look at, in the debtor's local time
located as (
    select
        period_contacts.contact_id,
        period_contacts.loan_id,
        period_contacts.contact_at,
        period_contacts.at_us,
        period_contacts.channel,
        period_contacts.party,
        period_contacts.outcome,
        period_contacts.agent_id,
        period_contacts.agency_id,
        period_contacts.ptp_amount,
        -- a loan without a customer record is its own debtor
        coalesce(loan_zones.customer_id, '#loan:' || period_contacts.loan_id) as debtor_key,
        case
            when loan_zones.loan_id is null and default_zone.fixed_offset_us is not null
                then period_contacts.at_us + default_zone.fixed_offset_us
            when loan_zones.loan_id is null
                then epoch_us(timezone(default_zone.tz, period_contacts.contact_at))
            when loan_zones.fixed_offset_us is not null
                then period_contacts.at_us + loan_zones.fixed_offset_us
            else epoch_us(timezone(loan_zones.tz, period_contacts.contact_at))
        end as local_us,
        settings.has_quiet_hours and not list_contains(settings.exempt_channels, period_contacts.channel)
            as checks_quiet,
        settings.quiet_start_s,
        settings.quiet_end_s,
        case
            when period_contacts.channel <> 'phone' then null
            when period_contacts.outcome = 'no_answer' and settings.has_unanswered_cap then 1
            when
                period_contacts.party = 'debtor'
                and period_contacts.outcome in ('rpc', 'ptp', 'refused')
                and settings.has_connected_cap
                then 0
        end as cap_kind,
        case
            when period_contacts.outcome = 'no_answer' then settings.unanswered_calls_per_day
            else settings.connected_calls_per_day
        end as cap
    from period_contacts
    cross join settings
    cross join default_zone
    left join loan_zones on period_contacts.loan_id = loan_zones.loan_id
    where settings.has_quiet_hours or settings.has_connected_cap or settings.has_unanswered_cap
),

quiet_hours as (
    select
        contact_id, loan_id, contact_at, at_us, channel, outcome, agent_id, agency_id, ptp_amount,
        'quiet_hours' as rule
    from located
    where
        checks_quiet
        and case
            when quiet_start_s > quiet_end_s
                then (local_us // 1000000) % 86400 >= quiet_start_s or (local_us // 1000000) % 86400 < quiet_end_s
            else (local_us // 1000000) % 86400 >= quiet_start_s and (local_us // 1000000) % 86400 < quiet_end_s
        end
),

cap_calls as (
    select
        contact_id, loan_id, contact_at, at_us, channel, outcome, agent_id, agency_id, ptp_amount,
        cap_kind,
        cap,
        debtor_key,
        hash(debtor_key) as debtor_hash,
        local_us // 86400000000 as local_day
    from located
    where cap_kind is not null
),

-- (debtor, local day, kind) groups over their cap; a 64-bit hash collision can only add a group
-- that the exact ranking below then finds within its cap
over_cap as (
    select
        cap_kind,
        debtor_hash,
        local_day
    from cap_calls
    group by cap_kind, debtor_hash, local_day
    having count(*) > any_value(cap)
),

daily_caps as (
    select
        contact_id, loan_id, contact_at, at_us, channel, outcome, agent_id, agency_id, ptp_amount,
        case when cap_kind = 1 then 'unanswered_calls_per_day' else 'connected_calls_per_day' end as rule
    from (
        select
            cap_calls.*,
            row_number() over (
                partition by cap_calls.cap_kind, cap_calls.debtor_key, cap_calls.local_day
                order by cap_calls.at_us, cap_calls.contact_id
            ) as call_no
        from cap_calls
        semi join over_cap
            on
                cap_calls.cap_kind = over_cap.cap_kind
                and cap_calls.debtor_hash = over_cap.debtor_hash
                and cap_calls.local_day = over_cap.local_day
    )
    where call_no > cap
),

-- right-party contacts (any channel) and, of them, the phone conversations
rpc_contacts as (
    select
        loan_id,
        at_us,
        channel
    from period_contacts
    cross join settings
    where
        outcome in ('rpc', 'ptp', 'refused')
        and (settings.has_third_party or settings.has_conversation)
),

third_party_contact as (
    select
        third_party.contact_id, third_party.loan_id, third_party.contact_at, third_party.at_us,
        third_party.channel, third_party.outcome, third_party.agent_id, third_party.agency_id,
        third_party.ptp_amount,
        'third_party_contact' as rule
    from period_contacts as third_party
    cross join settings
    semi join rpc_contacts
        on
            third_party.loan_id = rpc_contacts.loan_id
            and rpc_contacts.at_us < third_party.at_us
            and rpc_contacts.at_us >= third_party.at_us - settings.third_party_after_rpc_days * 86400000000
    where settings.has_third_party and third_party.party = 'third_party'
),

visit_collectors as (
    select
        contact_id, loan_id, contact_at, at_us, channel, outcome, agent_id, agency_id, ptp_amount,
        'visit_collectors' as rule
    from period_contacts
    cross join settings
    where
        settings.has_visit_rule
        and period_contacts.channel = 'visit'
        and period_contacts.collectors < settings.visit_min_collectors
),

phone_calls as (
    select
        contact_id, loan_id, contact_at, at_us, channel, outcome, agent_id, agency_id, ptp_amount,
        hash(loan_id) as loan_hash
    from period_contacts
    cross join settings
    where period_contacts.channel = 'phone' and (settings.has_call_window or settings.has_conversation)
),

-- more than N calls in (t - W, t] means the call N places earlier on the same loan is later than t - W
calls_7_in_7 as (
    select
        contact_id, loan_id, contact_at, at_us, channel, outcome, agent_id, agency_id, ptp_amount,
        'calls_7_in_7' as rule
    from (
        select
            phone_calls.*,
            coalesce(
                lag(phone_calls.loan_hash, settings.calls_in_window) over by_loan = phone_calls.loan_hash
                and lag(phone_calls.loan_id, settings.calls_in_window) over by_loan = phone_calls.loan_id
                and lag(phone_calls.at_us, settings.calls_in_window) over by_loan
                > phone_calls.at_us - settings.call_window_days * 86400000000,
                false
            ) as is_over_window
        from phone_calls
        cross join settings
        where settings.has_call_window
        window by_loan as (order by phone_calls.loan_hash, phone_calls.at_us, hash(phone_calls.contact_id))
    )
    where is_over_window
),

-- a conversation in window bucket b can only be followed (within one window) by calls in b or b + 1
conversation_buckets as (
    select
        rpc_contacts.loan_id,
        rpc_contacts.at_us,
        unnest([
            rpc_contacts.at_us // settings.conversation_us,
            rpc_contacts.at_us // settings.conversation_us + 1
        ]) as bucket
    from rpc_contacts
    cross join settings
    where settings.has_conversation and rpc_contacts.channel = 'phone'
),

call_after_conversation as (
    select
        phone_calls.contact_id, phone_calls.loan_id, phone_calls.contact_at, phone_calls.at_us,
        phone_calls.channel, phone_calls.outcome, phone_calls.agent_id, phone_calls.agency_id,
        phone_calls.ptp_amount,
        'call_after_conversation' as rule
    from phone_calls
    cross join settings
    semi join conversation_buckets
        on
            phone_calls.loan_id = conversation_buckets.loan_id
            and phone_calls.at_us // settings.conversation_us = conversation_buckets.bucket
            and conversation_buckets.at_us < phone_calls.at_us
            and conversation_buckets.at_us >= phone_calls.at_us - settings.conversation_us
    where settings.has_conversation
),

breaches as (
    select * from quiet_hours
    union all
    select * from daily_caps
    union all
    select * from third_party_contact
    union all
    select * from visit_collectors
    union all
    select * from calls_7_in_7
    union all
    select * from call_after_conversation
),

final as (
    select
        breaches.rule,
        breaches.contact_id,
        breaches.loan_id,
        loan_zones.customer_id,
        breaches.contact_at,
        make_timestamp(
            case
                when loan_zones.loan_id is null and default_zone.fixed_offset_us is not null
                    then breaches.at_us + default_zone.fixed_offset_us
                when loan_zones.loan_id is null
                    then epoch_us(timezone(default_zone.tz, breaches.contact_at))
                when loan_zones.fixed_offset_us is not null
                    then breaches.at_us + loan_zones.fixed_offset_us
                else epoch_us(timezone(loan_zones.tz, breaches.contact_at))
            end
        ) as local_time,
        breaches.channel,
        breaches.outcome,
        breaches.agent_id,
        breaches.agency_id,
        breaches.ptp_amount
    from breaches
    cross join default_zone
    left join loan_zones on breaches.loan_id = loan_zones.loan_id
    where
        breaches.contact_at >= period_start::timestamptz
        and breaches.contact_at < period_end::timestamptz
        and (only_customer is null or loan_zones.customer_id = only_customer)
)

select * from final
