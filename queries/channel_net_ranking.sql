-- Channels and strategies ranked by what they return net of cost and complaints over a period:
-- net value = recovered - contact cost - complaints x complaint_cost (yuan per complaint, the
-- complaint_cost_yuan setting, 500 by default), also per attempt and per yuan of contact cost.
-- Recovered follows channel_effectiveness: each payment in the period goes to the last reaching contact
-- on its loan in the 7 days before it (its channel and strategy). A complaint counts for the channel it
-- names and for the strategy of the last contact on its loan at or before it was received.
-- Rank 1 is the highest net value per yuan of cost within each dimension: where the next yuan of
-- collection effort does the most good with the least harm.
-- The contact log is read through facts kept on load (queries/derived/): contact_day_channel and
-- contact_day_segment (attempts and cost per local day and channel or strategy), payment_attribution
-- (which contact earns each payment) and complaint_last_contact (each complaint's strategy).
-- param: start date = null
-- param: end date = null
-- param: complaint_cost float = 500
with

effort_by_day as (
    -- attempts and cost of the period's local days, per channel and per strategy
    select
        'channel' as dimension,
        channel as value,
        attempts,
        cost
    from contact_day_channel
    where
        ($start::date is null or contact_on >= $start::date)
        and ($end::date is null or contact_on < $end::date)
    union all
    select
        'strategy' as dimension,
        segment as value,
        attempts,
        cost
    from contact_day_segment
    where
        kind = 'strategy'
        and ($start::date is null or contact_on >= $start::date)
        and ($end::date is null or contact_on < $end::date)
),

attributed_payments as (
    -- the derived table payment_attribution (queries/derived/) holds each payment's contact
    select
        amount,
        channel,
        coalesce(nullif(strategy, ''), 'none') as strategy
    from payment_attribution
    where
        contact_id is not null
        and ($start::date is null or paid_at >= $start::date::timestamptz)
        and ($end::date is null or paid_at < $end::date::timestamptz)
),

period_complaints as (
    select
        complaint_id,
        channel
    from complaints
    where
        ($start::date is null or received_at >= $start::date::timestamptz)
        and ($end::date is null or received_at < $end::date::timestamptz)
),

complaint_strategy as (
    -- complaints whose loan had a contact by then (complaint_last_contact: the last one's strategy)
    select
        period_complaints.complaint_id,
        coalesce(nullif(complaint_last_contact.strategy, ''), 'none') as strategy
    from period_complaints
    inner join complaint_last_contact on period_complaints.complaint_id = complaint_last_contact.complaint_id
    where complaint_last_contact.contact_id is not null
),

effort as (
    select
        dimension,
        value,
        sum(attempts) as attempts,
        sum(cost) as cost
    from effort_by_day
    group by dimension, value
),

recovery as (
    select
        'channel' as dimension,
        channel as value,
        sum(amount) as recovered
    from attributed_payments
    group by channel
    union all
    select
        'strategy' as dimension,
        strategy as value,
        sum(amount) as recovered
    from attributed_payments
    group by strategy
),

harm as (
    select
        'channel' as dimension,
        channel as value,
        count(*) as complaints
    from period_complaints
    where channel is not null and channel <> ''
    group by channel
    union all
    select
        'strategy' as dimension,
        strategy as value,
        count(*) as complaints
    from complaint_strategy
    group by strategy
),

scored as (
    select
        effort.dimension,
        effort.value,
        effort.attempts,
        coalesce(recovery.recovered, 0)::decimal(18, 2) as recovered_amount,
        effort.cost::decimal(18, 2) as cost,
        coalesce(harm.complaints, 0) as complaints,
        (coalesce(harm.complaints, 0) * $complaint_cost::double) as complaint_cost,
        (
            coalesce(recovery.recovered, 0)::double - effort.cost::double
            - coalesce(harm.complaints, 0) * $complaint_cost::double
        ) as net_value
    from effort
    left join recovery on effort.dimension = recovery.dimension and effort.value = recovery.value
    left join harm on effort.dimension = harm.dimension and effort.value = harm.value
),

final as (
    select
        dimension,
        value,
        (rank() over (
            partition by dimension
            order by net_value / nullif(cost::double, 0) desc nulls last, net_value desc, value
        ))::bigint as rank,
        attempts::bigint as attempts,
        recovered_amount,
        cost,
        complaints::bigint as complaints,
        round(complaint_cost, 2)::decimal(18, 2) as complaint_cost,
        round(net_value, 2)::decimal(18, 2) as net_value,
        round(net_value / attempts, 4)::double as net_per_attempt,
        round(net_value / nullif(cost::double, 0), 4)::double as net_per_yuan_cost
    from scored
)

select * from final
order by dimension, rank
