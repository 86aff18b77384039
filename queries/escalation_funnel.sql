-- Escalation funnel for month-end as_of: of the loans with DPD >= 1 at as_of, how many have a contact
-- in each ladder step within the window (as_of, next month-end]. Steps always appear in order:
-- reminder (sms or app), phone, visit, legal.
-- param: as_of date
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

loans_in_scope as (
    select loan_id
    from loans
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

window_bounds as (
    select
        ($as_of::date + 1)::timestamptz as opens_at,
        (last_day($as_of::date + interval 1 month) + 1)::timestamptz as closes_at
),

cohort as (
    -- two branches so that an unfiltered call never pays for the semi-join with loans
    select loan_id
    from snapshots
    where as_of = $as_of::date and dpd >= 1 and $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select loan_id
    from snapshots
    where
        as_of = $as_of::date
        and dpd >= 1
        and not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

ladder as (
    select * from (
        values
        ('reminder', 'sms'),
        ('reminder', 'app'),
        ('phone', 'phone'),
        ('visit', 'visit'),
        ('legal', 'legal')
    ) as ladder (step, channel)
),

steps as (
    select distinct step from ladder
),

window_steps as (
    select
        ladder.step,
        count(distinct contacts.loan_id) as loans
    from contacts
    cross join window_bounds
    inner join ladder on contacts.channel = ladder.channel
    where
        contacts.contact_at >= window_bounds.opens_at
        and contacts.contact_at < window_bounds.closes_at
        and contacts.loan_id in (select loan_id from cohort)
    group by ladder.step
),

final as (
    select
        steps.step,
        coalesce(window_steps.loans, 0)::bigint as loans
    from steps
    left join window_steps on steps.step = window_steps.step
)

select * from final
order by list_position(['reminder', 'phone', 'visit', 'legal'], step)
