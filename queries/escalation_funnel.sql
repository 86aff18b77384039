-- Escalation funnel for month-end as_of: of the loans with DPD >= 1 at as_of, how many have a contact
-- in each ladder step within the window (as_of, next month-end]. Steps always appear in order:
-- reminder (sms or app), phone, visit, legal.
-- Each delinquent loan-month's window is kept on load in the derived table delinquent_month_activity
-- (queries/derived/): one row per cohort loan.
-- param: as_of date
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

cohort as (
    -- the loan's segment is a column of the derived table: a filter needs no join with loans
    select
        has_reminder,
        has_phone,
        has_visit,
        has_legal
    from delinquent_month_activity
    where
        as_of = $as_of::date
        and ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

step_counts as (
    select
        count(*) filter (where has_reminder) as reminder,
        count(*) filter (where has_phone) as phone,
        count(*) filter (where has_visit) as visit,
        count(*) filter (where has_legal) as legal
    from cohort
),

final as (
    unpivot step_counts
    on reminder, phone, visit, legal
    into name step value loans
)

select
    step,
    loans::bigint as loans
from final
order by list_position(['reminder', 'phone', 'visit', 'legal'], step)
