-- One complaint with its deadline; the mobile number comes out masked (138****5678).
-- param: complaint_id text
with

complaint as (
    select *
    from complaints
    where complaint_id = $complaint_id
    limit 1
),

final as (
    select
        complaint_id,
        ticket,
        received_at,
        source,
        coalesce(
            customer_id, (select loans.customer_id from loans where loans.loan_id = complaint.loan_id limit 1)
        ) as customer_id,
        loan_id,
        issue,
        sub_issue,
        channel,
        agent_id,
        agency_id,
        narrative,
        status,
        resolved_at,
        extension_days,
        extension_reason,
        resolution,
        public_resolution,
        root_cause,
        assignee,
        substantiated,
        evidence,
        complainant_name,
        case
            when length(mobile) >= 7 then left(mobile, 3) || repeat('*', length(mobile) - 7) || right(mobile, 4)
        end as mobile_masked,
        contact_time,
        plan_type,
        plan_amount,
        plan_months,
        received_at + to_days(15 + coalesce(extension_days, 0)) as due_at
    from complaint
)

select * from final
