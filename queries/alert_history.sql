-- KPI alert history (portal/alerts.py writes it): each time a rule started firing (`fired`) or stopped
-- (`cleared`) at a month-end, newest first. Written by `portal alerts check`, after snapshot uploads and
-- when the Overview is opened; a re-check of the same data adds nothing.
-- param: alert_rule text = null
-- param: row_limit int = 500
select
    event_id,
    alert_rule,
    alert_event,
    as_of,
    kpi,
    kpi_value,
    alert_condition,
    recorded_at,
    recorded_by
from alert_history
where $alert_rule::varchar is null or alert_rule = $alert_rule::varchar
order by as_of desc, event_id desc
limit greatest(coalesce($row_limit::integer, 500), 0)
