import streamlit as st

from portal import complaints, i18n, schemas, taxonomy, ui
from portal.i18n import t

user = ui.require_role("compliance")
st.title(t("complaints.queue.title"))

side = st.sidebar
status = side.multiselect(t("complaints.queue.status"), taxonomy.COMPLAINT_STATUSES,
                          default=list(complaints.OPEN_STATUSES), key="cq_status",
                          format_func=lambda v: i18n.label("status", v), placeholder=t("filters.all"))
issue = side.multiselect(t("complaints.queue.issue"), taxonomy.COMPLAINT_ISSUES, key="cq_issue",
                         format_func=lambda v: i18n.label("issue", v), placeholder=t("filters.all"))
channel = side.multiselect(t("complaints.queue.channel"), taxonomy.CHANNELS, key="cq_channel",
                           format_func=lambda v: i18n.label("channel", v), placeholder=t("filters.all"))
source = side.multiselect(t("complaints.queue.source"), taxonomy.COMPLAINT_SOURCES, key="cq_source",
                          format_func=lambda v: i18n.label("source", v), placeholder=t("filters.all"))
agent = side.text_input(t("complaints.queue.agent"), key="cq_agent").strip()
agency = side.text_input(t("complaints.queue.agency"), key="cq_agency").strip()
mine = side.checkbox(t("complaints.queue.mine"), key="cq_mine")

with st.form("open_complaint", enter_to_submit=True, border=False):
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    wanted = left.text_input(t("complaints.queue.open_label"), key="cq_open",
                           placeholder=t("complaints.ticket.number_placeholder"))
    if right.form_submit_button(t("complaints.queue.open_button"), icon=":material/open_in_new:") and wanted.strip():
        st.switch_page(str(ui.APP_PAGES / "complaint_detail.py"), query_params={"id": wanted.strip()})

queue = ui.run_query("complaint_queue", status=status or None, issue=issue or None, channel=channel or None,
                     source=source or None, agent=agent or None, agency=agency or None,
                     assignee=user.username if mine else None)
levels = [complaints.clock_level(s, d, o, tm) for s, d, o, tm in
          zip(queue["status"], queue["days_left"], queue["is_overdue"], queue["is_timely"], strict=True)]
a, b, c = st.columns(3)
a.metric(t("complaints.queue.count"), f"{len(queue):,}")
b.metric(t("complaints.queue.amber"), f"{levels.count('amber'):,}")
c.metric(t("complaints.queue.red"), f"{levels.count('red'):,}")
if queue.empty:
    ui.empty_state()
    st.stop()

view = queue.assign(
    clock=[ui.clock_words(lv, d) for lv, d in zip(levels, queue["days_left"], strict=True)],
)[["complaint_id", "clock", "due_at", "status", "issue", "channel", "source", "agency_id", "agent_id",
   "assignee", "received_at"]]
row = ui.table(view, "complaint_queue", "cq", model=schemas.ComplaintQueueView, select=True,
               styler=lambda shown: shown.style.apply(ui.clock_cells(levels), subset=["clock"]))
if row is not None:
    st.switch_page(str(ui.APP_PAGES / "complaint_detail.py"), query_params={"id": view["complaint_id"].iloc[row]})
