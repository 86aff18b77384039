-- How fast plan requests get an offer, against the complaint deadline: for the requests of
-- repayment_plan_funnel (received in [start, end), same loan filters), per plan type asked for
-- (instalments, deferral, or unspecified when only the issue asks for a plan) and for all of them
-- (plan_type 'all'): requests; offered (an offer made in the portal); the median and 90th percentile
-- of the days from receipt to the first offer; offered_by_deadline (the first offer at or before the
-- complaint's due_at = received_at + 15 days + the extension) and its share of the offered; waiting
-- (no offer and no plan yet, and the complaint still open: new, triaged or investigating) and
-- waiting_past_deadline (of those, past due_at now).
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

requests as (
    select
        complaints.complaint_id,
        complaints.received_at,
        case
            when complaints.plan_type in ('instalments', 'deferral') then complaints.plan_type
            else 'unspecified'
        end as plan_type,
        complaints.received_at + to_days(15 + coalesce(complaints.extension_days, 0)) as due_at,
        complaints.status in ('new', 'triaged', 'investigating') as is_open
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

first_offers as (
    select
        complaint_id,
        min(offered_at) as first_offered_at
    from plan_offers
    group by complaint_id
),

answered_by_plan as (
    select distinct complaint_id
    from repayment_plans
    where complaint_id is not null
),

timed as (
    select
        requests.plan_type,
        requests.due_at,
        first_offers.first_offered_at,
        epoch(first_offers.first_offered_at - requests.received_at) / 86400.0 as days_to_offer,
        requests.is_open and first_offers.first_offered_at is null and answered_by_plan.complaint_id is null
        as is_waiting
    from requests
    left join first_offers on requests.complaint_id = first_offers.complaint_id
    left join answered_by_plan on requests.complaint_id = answered_by_plan.complaint_id
),

final as (
    select
        coalesce(plan_type, 'all') as plan_type,
        count(*) as requests,
        count(first_offered_at) as offered,
        quantile_cont(days_to_offer, 0.5) as median_days_to_offer,
        quantile_cont(days_to_offer, 0.9) as p90_days_to_offer,
        count(*) filter (where first_offered_at <= due_at) as offered_by_deadline,
        count(*) filter (where first_offered_at <= due_at) / nullif(count(first_offered_at), 0) as by_deadline_rate,
        count(*) filter (where is_waiting) as waiting,
        count(*) filter (where is_waiting and now() > due_at) as waiting_past_deadline,
        grouping(plan_type) as is_total
    from timed
    group by grouping sets ((plan_type), ())
    having count(*) > 0
)

select * exclude (is_total)
from final
order by is_total, plan_type
