-- The month-ends present in the snapshots, with the number of loans in each. Read from the month-level
-- rollup book_flows (queries/derived/), whose loan counts add up to every snapshot row of a month-end,
-- so the sidebar of every page does not scan the snapshots.
with

final as (
    select
        as_of,
        sum(loans)::bigint as loans
    from book_flows
    group by as_of
)

select * from final
order by as_of
