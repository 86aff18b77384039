-- Channel effectiveness over a period, per channel: attempts; reach, rpc and ptp rates per attempt;
-- the share of ptps kept (payments on the loan in [contact_at, ptp_due_on + 3 days] add up to at least
-- ptp_amount); the amount recovered (each payment in the period goes to the last reaching contact on
-- its loan in the 7 days before it; payments with none are not attributed); cost and cost per yuan
-- recovered; complaints naming the channel, and per 10,000 attempts.
-- The contact log is read through facts kept on load (queries/derived/): contact_day_channel (attempts
-- and cost per local day, channel and loan segment), payment_attribution (which contact earns each
-- payment) and ptp_outcomes (whether each ptp was kept).
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

loans_in_scope as not materialized (
    select loan_id
    from loans
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

period_ptps as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        channel,
        is_kept
    from ptp_outcomes
    where
        ($start::date is null or contact_at >= $start::date::timestamptz)
        and ($end::date is null or contact_at < $end::date::timestamptz)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

attributed_payments as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        channel,
        amount
    from payment_attribution
    where
        contact_id is not null
        and ($start::date is null or paid_at >= $start::date::timestamptz)
        and ($end::date is null or paid_at < $end::date::timestamptz)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

recovered as (
    select
        channel,
        sum(amount) as recovered_amount
    from attributed_payments
    group by channel
),

ptp_kept as (
    select
        channel,
        count(*) as ptps,
        count(*) filter (where is_kept) as kept
    from period_ptps
    group by channel
),

channel_complaints as (
    select
        channel,
        count(*) as complaints
    from (
        -- a complaint without a loan only counts when no loan filter is set
        select channel
        from complaints
        where
            $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
            and channel is not null
            and ($start::date is null or received_at >= $start::date::timestamptz)
            and ($end::date is null or received_at < $end::date::timestamptz)
        union all
        select channel
        from complaints
        where
            not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
            and channel is not null
            and ($start::date is null or received_at >= $start::date::timestamptz)
            and ($end::date is null or received_at < $end::date::timestamptz)
            and loan_id in (select loan_id from loans_in_scope)
    ) as scoped
    group by channel
),

attempts as (
    select
        channel,
        sum(attempts)::bigint as attempts,
        sum(reached)::bigint as reached,
        sum(rpcs)::bigint as rpcs,
        sum(ptps)::bigint as ptps,
        sum(cost) as cost
    from contact_day_channel
    where
        ($start::date is null or contact_on >= $start::date)
        and ($end::date is null or contact_on < $end::date)
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
    group by channel
),

channels as (
    select channel from attempts
    union
    select channel from recovered
    union
    select channel from channel_complaints
),

final as (
    select
        channels.channel,
        coalesce(attempts.attempts, 0)::bigint as attempts,
        (attempts.reached / nullif(attempts.attempts, 0))::double as reach_rate,
        (attempts.rpcs / nullif(attempts.attempts, 0))::double as rpc_rate,
        (attempts.ptps / nullif(attempts.attempts, 0))::double as ptp_rate,
        (ptp_kept.kept / nullif(ptp_kept.ptps, 0))::double as ptp_kept_rate,
        coalesce(recovered.recovered_amount, 0)::decimal(18, 2) as recovered_amount,
        coalesce(attempts.cost, 0)::decimal(18, 2) as cost,
        round(attempts.cost / nullif(recovered.recovered_amount, 0), 4)::double as cost_per_yuan_recovered,
        coalesce(channel_complaints.complaints, 0)::bigint as complaints,
        (coalesce(channel_complaints.complaints, 0) * 10000.0 / nullif(attempts.attempts, 0))::double
            as complaints_per_10k_attempts
    from channels
    left join attempts on channels.channel = attempts.channel
    left join ptp_kept on channels.channel = ptp_kept.channel
    left join recovered on channels.channel = recovered.channel
    left join channel_complaints on channels.channel = channel_complaints.channel
)

select * from final
order by list_position(['sms', 'app', 'phone', 'letter', 'social', 'visit', 'legal'], channel), channel
