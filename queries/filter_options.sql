-- The values offered by the sidebar filters: one row per dimension and value present in the loans.
with

loan_dimensions as (
    select 'product' as dimension, product as value from loans
    union all
    select 'region' as dimension, region as value from loans
    union all
    select 'risk_grade' as dimension, risk_grade as value from loans
),

final as (
    select
        dimension,
        value,
        count(*) as loans
    from loan_dimensions
    where value is not null
    group by dimension, value
)

select * from final
order by dimension, value
