-- The days from a plan request to its first offer, for the histogram of the Repayment plans page:
-- for the offered requests of repayment_plan_offer_timing (received in [start, end), same loan
-- filters), per whole day from receipt to the first portal offer (0 = within 24 hours), the requests
-- offered that many days after receipt and how many of them were offered by the complaint's deadline.
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
        complaints.received_at + to_days(15 + coalesce(complaints.extension_days, 0)) as due_at
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

final as (
    select
        floor(epoch(first_offers.first_offered_at - requests.received_at) / 86400.0)::integer as days_to_offer,
        count(*) as offers,
        count(*) filter (where first_offers.first_offered_at <= requests.due_at) as by_deadline
    from requests
    inner join first_offers on requests.complaint_id = first_offers.complaint_id
    group by all
)

select * from final
order by days_to_offer
