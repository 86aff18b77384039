-- The control group of the 90-day cure comparison (DOMAIN.md, Flexible repayment plans): one row per
-- delinquent loan-month (a snapshot with DPD >= 1), with the loan's DPD at the 3rd, 4th and 5th
-- month-end after it (null when the loan has no snapshot there) and the first day the loan had a plan
-- agreed (null when never). A plan agreed in the month after month-end M (M is the month-end before
-- its agreed_on) is compared with the loans in its bucket, product and risk grade at M that had no plan:
-- is_plan_free says the loan had no plan agreed on or before the month-end after M, so neither a plan
-- already running at M nor one agreed alongside the plans of that month. A loan that agrees a plan
-- later stays a control (it had none when the others did), so the control is not chosen by what
-- happens to it afterwards; read at the plan's horizon (repayment_plan_cure.horizon_months: the 3rd,
-- 4th or 5th month-end after M), it is the same month-end as the plan's. The loan's product, region
-- and risk grade ride along.
-- derived: reads loans, snapshots, repayment_plans
-- derived: key loan_id
with

delinquent as (
    select
        loan_id,
        as_of,
        case
            when dpd <= 30 then 'M1'
            when dpd <= 60 then 'M2'
            when dpd <= 90 then 'M3'
            when dpd <= 120 then 'M4'
            when dpd <= 150 then 'M5'
            when dpd <= 180 then 'M6'
            else 'M6+'
        end as bucket
    from snapshots
    where dpd >= 1
),

later as (
    -- each delinquent loan-month joined to the same loan's next five month-ends (a hash join on loan_id;
    -- the 5th month-end after a month-end is at most 153 days later, the 6th at least 181)
    select
        delinquent.loan_id,
        delinquent.as_of,
        max(snapshots.dpd) filter (where datediff('month', delinquent.as_of, snapshots.as_of) = 3) as dpd_3,
        max(snapshots.dpd) filter (where datediff('month', delinquent.as_of, snapshots.as_of) = 4) as dpd_4,
        max(snapshots.dpd) filter (where datediff('month', delinquent.as_of, snapshots.as_of) = 5) as dpd_5
    from delinquent
    inner join snapshots
        on
            delinquent.loan_id = snapshots.loan_id
            and snapshots.as_of > delinquent.as_of
            and snapshots.as_of <= delinquent.as_of + 155
    group by delinquent.loan_id, delinquent.as_of
),

first_plans as (
    select
        loan_id,
        min(agreed_on) as first_plan_on
    from repayment_plans
    group by loan_id
),

final as (
    select
        delinquent.loan_id,
        delinquent.as_of,
        delinquent.bucket,
        later.dpd_3,
        later.dpd_4,
        later.dpd_5,
        first_plans.first_plan_on,
        coalesce(first_plans.first_plan_on > last_day(delinquent.as_of + interval 1 month), true) as is_plan_free,
        loans.product,
        loans.region,
        loans.risk_grade
    from delinquent
    left join later on delinquent.loan_id = later.loan_id and delinquent.as_of = later.as_of
    left join first_plans on delinquent.loan_id = first_plans.loan_id
    left join loans on delinquent.loan_id = loans.loan_id
)

select * from final
order by as_of, bucket, loan_id
