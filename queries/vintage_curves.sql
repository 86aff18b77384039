-- Vintage curves: for each disbursal cohort (month of disbursed_on), the share of its loans that have
-- been at M1+ (DPD >= 1) and at M3+ (DPD >= 61) at any month-end up to each month on book.
-- Months on book count calendar months from the disbursal month to the month-end; only month-ends
-- present in the snapshots appear. The denominator is every loan of the cohort.
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
with

loans_in_scope as (
    select
        loan_id,
        date_trunc('month', disbursed_on)::date as cohort
    from loans
    where
        ($product::varchar [] is null or list_contains($product::varchar [], product))
        and ($region::varchar [] is null or list_contains($region::varchar [], region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
),

cohort_sizes as (
    select
        cohort,
        count(*) as loans
    from loans_in_scope
    group by cohort
),

month_ends as (
    select distinct as_of from snapshots
),

delinquent_snapshots as (
    -- two branches so that an unfiltered call never pays for the semi-join with loans
    select
        loan_id,
        as_of,
        dpd
    from snapshots
    where dpd >= 1 and $product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null
    union all
    select
        loan_id,
        as_of,
        dpd
    from snapshots
    where
        dpd >= 1
        and not ($product::varchar [] is null and $region::varchar [] is null and $risk_grade::varchar [] is null)
        and loan_id in (select loan_id from loans_in_scope)
),

first_delinquency as (
    select
        loan_id,
        min(as_of) as first_m1_on,
        min(as_of) filter (where dpd >= 61) as first_m3_on
    from delinquent_snapshots
    group by loan_id
),

loan_events as (
    select
        loans_in_scope.cohort,
        datediff('month', loans_in_scope.cohort, first_delinquency.first_m1_on) as m1_mob,
        datediff('month', loans_in_scope.cohort, first_delinquency.first_m3_on) as m3_mob
    from loans_in_scope
    inner join first_delinquency on loans_in_scope.loan_id = first_delinquency.loan_id
),

events_by_mob as (
    select
        cohort,
        mob,
        sum(m1) as new_m1,
        sum(m3) as new_m3
    from (
        select cohort, m1_mob as mob, 1 as m1, 0 as m3 from loan_events where m1_mob is not null
        union all
        select cohort, m3_mob as mob, 0 as m1, 1 as m3 from loan_events where m3_mob is not null
    )
    group by cohort, mob
),

cohort_mobs as (
    select
        cohort_sizes.cohort,
        cohort_sizes.loans,
        datediff('month', cohort_sizes.cohort, month_ends.as_of) as months_on_book
    from cohort_sizes
    cross join month_ends
    where month_ends.as_of >= cohort_sizes.cohort
),

cumulative as (
    select
        cohort_mobs.cohort,
        cohort_mobs.months_on_book,
        cohort_mobs.loans,
        sum(coalesce(events_by_mob.new_m1, 0)) over cohort_window as ever_m1,
        sum(coalesce(events_by_mob.new_m3, 0)) over cohort_window as ever_m3
    from cohort_mobs
    left join events_by_mob
        on
            cohort_mobs.cohort = events_by_mob.cohort
            and cohort_mobs.months_on_book = events_by_mob.mob
    window cohort_window as (partition by cohort_mobs.cohort order by cohort_mobs.months_on_book)
),

final as (
    select
        cohort,
        months_on_book::integer as months_on_book,
        loans::bigint as loans,
        ever_m1::bigint as ever_m1,
        ever_m3::bigint as ever_m3,
        (ever_m1 / loans)::double as ever_m1_share,
        (ever_m3 / loans)::double as ever_m3_share
    from cumulative
)

select * from final
order by cohort, months_on_book
