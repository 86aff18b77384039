import pandas as pd
import streamlit as st

from portal import charts, drill, i18n, ui
from portal.i18n import t

ui.require_role("executive", "analyst", "compliance")
st.title(t("dash.funnels.title"))
filters = ui.sidebar_filters()
dims = {k: filters.get(k) for k in ui.FILTER_DIMENSIONS}
all_months = sorted((pd.Timestamp(m).date() for m in ui.run_query("month_ends")["as_of"]), reverse=True)
months = [m for m in all_months if filters.get("start", m) <= m < filters.get("end", m + pd.Timedelta(days=1))]
if not months:
    ui.empty_state()
    st.stop()
# the newest month-end has no following month in the data, so default to the one before it
default = 1 if len(months) > 1 else 0
stage_pick = drill.stage_params(ui.url_values(drill.STAGE_FIELDS))
if "fn_month" not in st.session_state and stage_pick is not None and stage_pick["as_of"] in months:
    st.session_state["fn_month"] = stage_pick["as_of"]  # a shared link opens on its month
    default = 0  # the value comes from the session state: no second default
month = st.selectbox(t("dash.funnels.month"), months, index=default, key="fn_month")


def draw(as_of, key: str, tables: bool = True, select: bool = False) -> dict[str, pd.DataFrame]:
    """Both funnels for one month-end, with their tables; with `select`, a stage or step can be picked."""
    stages = ui.run_query("delinquency_funnel", as_of=as_of, **dims)
    steps = ui.run_query("escalation_funnel", as_of=as_of, **dims)
    stage_labels = {s: i18n.label("stage", s) for s in stages["stage"]}
    step_labels = {s: i18n.label("step", s) for s in steps["step"]}
    for frame, column, labels, title, part in (
        (stages, "stage", stage_labels, "dash.funnels.delinquency_title", "delinquency"),
        (steps, "step", step_labels, "dash.funnels.escalation_title", "escalation"),
    ):
        points = ui.chart(charts.funnel(frame, column, "loans", t(title, month=as_of.isoformat()), labels),
                          f"{key}_{part}", select=select)
        table_key = f"{key}_stages" if part == "delinquency" else f"{key}_steps"
        row = None
        if tables:
            picked = stage_pick if stage_pick is not None and stage_pick["as_of"] == as_of else None
            row = ui.table(frame, f"{part}_funnel_{as_of.isoformat()}", table_key, select=select,
                           selected=drill.row_of(frame, {"fn_stage": picked["stage"]} if picked else None,
                                                 {"fn_stage": column}))
        if select:
            point = drill.point_pick(points, drill.STAGE_FIELDS[1:])
            ui.url_selection(f"{key}_{part}", {"fn_as_of": as_of.isoformat(), **point} if point else None,
                             drill.STAGE_FIELDS)
            if tables:
                picked_row = drill.row_pick(frame, row, {"fn_stage": column})
                ui.url_selection(table_key, {"fn_as_of": as_of.isoformat(), **picked_row} if picked_row else None,
                                 drill.STAGE_FIELDS)
    return {"stage": stages, "step": steps}


st.caption(t("drill.hint"))
funnels = draw(month, "fn_main", select=True)
stage_pick = drill.stage_params(ui.url_values(drill.STAGE_FIELDS))
if stage_pick is not None:
    kind = drill.stage_kind(stage_pick["stage"])
    counts = funnels[kind] if stage_pick["as_of"] == month else ui.run_query(
        f"{'delinquency' if kind == 'stage' else 'escalation'}_funnel", as_of=stage_pick["as_of"], **dims)
    hit = counts.loc[counts[kind] == stage_pick["stage"], "loans"]
    ui.drill_down(
        "funnel_stage_loans", {**stage_pick, **dims},
        "drill.stage_title", f"funnel_stage_loans_{stage_pick['as_of'].isoformat()}_{stage_pick['stage']}",
        "fn_stage_loans", drill.STAGE_FIELDS, total=int(hit.iloc[0]) if not hit.empty else None,
        tables=("fn_main_stages", "fn_main_steps"),
        title_values={"stage": i18n.label(kind, stage_pick["stage"]), "as_of": stage_pick["as_of"].isoformat()},
    )

st.subheader(t("dash.funnels.compare_title"))
others = [m for m in months if m != month] or months
compare = st.selectbox(t("dash.funnels.compare_month"), others, index=min(1, len(others) - 1), key="fn_compare")
left, right = st.columns(2)
with left:
    draw(month, "fn_left", tables=False)
with right:
    draw(compare, "fn_right")
