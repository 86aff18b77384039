-- The schedule of the repayment plans answering one complaint (the complaint workbench): one row per
-- instalment with its due date, amount and cumulative amount, when the loan's payments since agreed_on
-- covered it (null while they do not), and its state by the clock (the latest payment or month-end in
-- the data): kept, missed (grace ended, not covered in time), in_grace (due date passed, grace not
-- ended) or upcoming. plan_status is the plan's tracked status: cancelled, completed (every
-- instalment kept), broken (two or more missed; a one-instalment plan when it is missed) or active.
-- param: complaint_id text
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

rows as (
    select
        instalments.*,
        case
            when instalments.is_kept then 'kept'
            when instalments.closes_at <= clock.as_of_at then 'missed'
            when instalments.due_on::timestamptz <= clock.as_of_at then 'in_grace'
            else 'upcoming'
        end as state
    from repayment_plan_instalments as instalments
    cross join clock
    where instalments.complaint_id = $complaint_id
),

final as (
    select
        plan_id,
        plan_type,
        case
            when status = 'cancelled' then 'cancelled'
            when bool_and(is_kept) over (partition by plan_id) then 'completed'
            when count(*) filter (where state = 'missed') over (partition by plan_id) >= least(2, instalments)
                then 'broken'
            else 'active'
        end as plan_status,
        agreed_on,
        instalment_no,
        due_on,
        amount_due,
        cumulative_due,
        covered_at,
        state
    from rows
)

select * from final
order by plan_id, instalment_no
