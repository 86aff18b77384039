-- The month-ends present in the snapshots, with the number of loans in each.
with

final as (
    select
        as_of,
        count(*) as loans
    from snapshots
    group by as_of
)

select * from final
order by as_of
