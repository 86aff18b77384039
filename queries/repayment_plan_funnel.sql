-- The repayment plan request funnel: complaints received in [start, end) that ask for a plan (the
-- public form's plan request, or the issue repayment_plan_request), on loans of the chosen product,
-- region and risk grade (a request naming no loan counts only when no such filter is set). Stages, each
-- within the one before: requested; offered (the portal made an offer, or a plan answering it was
-- uploaded); accepted (an offer accepted, or such a plan); kept_to_date (a plan answering it, not
-- cancelled, has missed no instalment by the clock: the latest payment or month-end in the data);
-- completed (every instalment of such a plan kept). share_of_requested = requests / requested.
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

clock as (
    select
        least(
            now(),
            greatest(
                coalesce((select max(paid_at) from payments), '-infinity'::timestamptz),
                coalesce((select (max(as_of) + 1)::timestamptz from book_flows), '-infinity'::timestamptz)
            )
        ) as as_of_at
),

requests as (
    select complaints.complaint_id
    from complaints
    left join loans on complaints.loan_id = loans.loan_id
    where
        (complaints.plan_type in ('instalments', 'deferral') or complaints.issue = 'repayment_plan_request')
        and ($start::date is null or complaints.received_at >= $start::date::timestamptz)
        and ($end::date is null or complaints.received_at < $end::date::timestamptz)
        and ($product::varchar [] is null or list_contains($product::varchar [], loans.product))
        and ($region::varchar [] is null or list_contains($region::varchar [], loans.region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], loans.risk_grade))
),

plan_state as (
    select
        instalments.complaint_id,
        instalments.plan_id,
        any_value(instalments.status) as status,
        count(*) filter (where instalments.closes_at <= clock.as_of_at and not instalments.is_kept) as missed,
        bool_and(instalments.is_kept) as all_kept
    from repayment_plan_instalments as instalments
    cross join clock
    where instalments.complaint_id in (select complaint_id from requests)
    group by instalments.complaint_id, instalments.plan_id
),

flags as (
    select
        requests.complaint_id,
        exists (select 1 from plan_offers where plan_offers.complaint_id = requests.complaint_id)
        or exists (select 1 from plan_state where plan_state.complaint_id = requests.complaint_id) as is_offered,
        exists (
            select 1 from plan_offers
            where plan_offers.complaint_id = requests.complaint_id and plan_offers.status = 'accepted'
        )
        or exists (select 1 from plan_state where plan_state.complaint_id = requests.complaint_id) as is_accepted,
        exists (
            select 1 from plan_state
            where
                plan_state.complaint_id = requests.complaint_id
                and plan_state.status <> 'cancelled' and plan_state.missed = 0
        ) as is_kept,
        exists (
            select 1 from plan_state
            where
                plan_state.complaint_id = requests.complaint_id
                and plan_state.status <> 'cancelled' and plan_state.all_kept
        ) as is_completed
    from requests
),

counts as (
    select
        count(*) as requested,
        count(*) filter (where is_offered) as offered,
        count(*) filter (where is_accepted) as accepted,
        count(*) filter (where is_kept) as kept_to_date,
        count(*) filter (where is_completed) as completed
    from flags
),

stages as (
    select * from (
        values ('requested', 1), ('offered', 2), ('accepted', 3), ('kept_to_date', 4), ('completed', 5)
    ) as s (stage, stage_order)
),

final as (
    select
        stages.stage,
        case stages.stage
            when 'requested' then counts.requested
            when 'offered' then counts.offered
            when 'accepted' then counts.accepted
            when 'kept_to_date' then counts.kept_to_date
            else counts.completed
        end as requests,
        stages.stage_order
    from stages
    cross join counts
)

select
    stage,
    requests,
    coalesce(requests / nullif(max(requests) over (), 0), 0) as share_of_requested
from final
order by stage_order
