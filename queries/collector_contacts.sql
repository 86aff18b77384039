-- Drill-down of collector_scorecard: the contacts made by one agent (by = agent) or one agency
-- (by = agency; `in_house` for an empty agency, as on the scorecard) in [start, end) (local dates), on
-- loans in scope, in time order. Its rows count that scorecard row's attempts.
-- Scans the contact log (pruned by contact_at where the log is stored in time order) and joins loans;
-- with row_limit, only up to the last day the first rows fall on (from contact_day_collector).
-- param: by text = agent in agent|agency
-- param: collector_id text
-- param: start date = null
-- param: end date = null
-- param: product text[] = null
-- param: region text[] = null
-- param: risk_grade text[] = null
-- param: row_limit int = null
with

first_days as (
    -- the page shows only the first row_limit contacts in time order: the day rollup (contact_day_collector,
    -- attempts per local day) says up to which day they fall, so the log is read and sorted up to it
    select min(contact_on) as last_day
    from (
        select
            contact_on,
            sum(sum(attempts)) over (order by contact_on) as running
        from contact_day_collector
        where
            kind = $by and collector_id = $collector_id
            and ($start::date is null or contact_on >= $start::date)
            and ($end::date is null or contact_on < $end::date)
            and ($product::varchar [] is null or list_contains($product::varchar [], product))
            and ($region::varchar [] is null or list_contains($region::varchar [], region))
            and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], risk_grade))
        group by contact_on
    ) as days
    where $row_limit::bigint is not null and running >= $row_limit::bigint
),

period_contacts as (
    select
        contact_id,
        loan_id,
        contact_at,
        channel,
        party,
        outcome,
        agent_id,
        agency_id,
        strategy,
        ptp_amount,
        ptp_due_on,
        cost
    from contacts
    where
        (
            $by = 'agent' and agent_id = $collector_id
            or $by = 'agency' and coalesce(nullif(agency_id, ''), 'in_house') = $collector_id
        )
        and ($start::date is null or contact_at >= $start::date::timestamptz)
        and ($end::date is null or contact_at < $end::date::timestamptz)
        and (
            (select last_day from first_days) is null
            or contact_at < ((select last_day from first_days) + 1)::timestamptz
        )
),

scoped as (
    select
        period_contacts.*,
        loans.customer_id
    from period_contacts
    left join loans on period_contacts.loan_id = loans.loan_id
    where
        ($product::varchar [] is null or list_contains($product::varchar [], loans.product))
        and ($region::varchar [] is null or list_contains($region::varchar [], loans.region))
        and ($risk_grade::varchar [] is null or list_contains($risk_grade::varchar [], loans.risk_grade))
),

final as (
    select
        contact_id,
        loan_id,
        customer_id,
        contact_at,
        channel,
        party,
        outcome,
        agent_id,
        agency_id,
        strategy,
        ptp_amount::decimal(18, 2) as ptp_amount,
        ptp_due_on,
        cost::decimal(18, 2) as cost
    from scoped
)

select * from final
order by contact_at, contact_id
-- the page shows the first rows and fetches the rest only for a download (null: every row)
limit $row_limit
