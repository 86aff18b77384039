import pandas as pd
import streamlit as st

from portal import charts, complaints, config, db, i18n, masking, plans, schemas, taxonomy, ui
from portal.i18n import t

user = ui.require_role("compliance")
st.title(t("nav.complaint_detail"))

typed = st.text_input(t("complaints.detail.pick"), value=st.query_params.get("id", ""), key="cd_pick").strip()
if not typed:
    st.info(t("complaints.detail.none"))
    st.stop()
complaint_id = typed
detail = ui.run_query("complaint_detail", complaint_id=complaint_id)
if detail.empty and complaints.TICKET_RE.fullmatch(complaints.normalise_ticket(typed)):
    complaint_id = complaints.normalise_ticket(typed)
    detail = ui.run_query("complaint_detail", complaint_id=complaint_id)
if detail.empty:
    st.warning(t("complaints.detail.not_found"))
    st.stop()
st.query_params["id"] = complaint_id
row = detail.iloc[0]


def _get(name: str):
    value = row[name]
    return None if pd.isna(value) else value


def _act(action: str) -> None:
    """Run one compliance action from its form's widgets; keep the outcome for the next run."""
    s = st.session_state
    calls = {
        "triage": lambda: complaints.triage(complaint_id, user.username, s.cd_issue, s.cd_sub_issue, s.cd_note_triage),
        "assign": lambda: complaints.assign(complaint_id, user.username, s.cd_assignee, s.cd_note_assign,
                                            staff_only=True),
        "status": lambda: complaints.transition(complaint_id, user.username, s.cd_status, s.cd_note_status),
        "extend": lambda: complaints.extend(complaint_id, user.username, s.cd_extension, s.cd_reason),
        "resolution": lambda: complaints.record_resolution(complaint_id, user.username, s.cd_resolution,
                                                           s.cd_public_text, s.cd_note_resolution),
        "root_cause": lambda: complaints.record_root_cause(complaint_id, user.username, s.cd_root_cause),
        "finding": lambda: complaints.record_substantiation(complaint_id, user.username,
                                                            s.cd_substantiated == "yes", s.cd_evidence),
    }
    try:
        events = calls[action]()
        s.cd_message = ("ok", t("complaints.detail.saved") if events else t("complaints.detail.unchanged"))
    except complaints.ComplaintError as exc:
        s.cd_message = ("error", exc.localized())


st.code(complaint_id, language=None)
now_clock = complaints.deadline_clock(row["received_at"], int(row["extension_days"]), row["status"],
                                      pd.Timestamp.now(tz="UTC"), _get("resolved_at"))
level = now_clock.level
days = now_clock.days_left if now_clock.days_left is not None else 0
a, b, c = st.columns(3)
a.metric(t("complaints.detail.status"), i18n.label("status", row["status"]))
b.metric(t("complaints.detail.due_at"), pd.Timestamp(row["due_at"]).strftime("%Y-%m-%d %H:%M"))
with c:
    st.caption(t("complaints.queue.clock"))
    ui.clock_badge(level, days)

plan = _get("plan_type")
facts = [
    ("received_at", pd.Timestamp(row["received_at"]).strftime("%Y-%m-%d %H:%M")),
    ("source", i18n.label("source", row["source"])),
    ("issue", i18n.label("issue", row["issue"])),
    ("sub_issue", _get("sub_issue")),
    ("channel", i18n.label("channel", _get("channel")) if _get("channel") else None),
    ("assignee", _get("assignee")),
    ("customer", _get("customer_id")),
    ("loan", _get("loan_id")),
    ("name", masking.mask_name(_get("complainant_name"))),
    ("mobile", _get("mobile_masked")),
    ("extension", t("complaints.detail.extension_value", days=int(row["extension_days"]),
                    reason=_get("extension_reason")) if int(row["extension_days"]) else None),
    ("resolution", i18n.label("resolution", _get("resolution")) if _get("resolution") else None),
    ("public_resolution", _get("public_resolution")),
    ("root_cause", _get("root_cause")),
    ("substantiated", None if _get("substantiated") is None
     else t("complaints.detail.yes") if bool(_get("substantiated")) else t("complaints.detail.no")),
    ("evidence", _get("evidence")),
]
# What the customer asks for, in plain sight rather than a row of the facts grid: a small key/value
# block that wraps (metric tiles cut "Evening (18:00 to 21:00)" short). The values are catalogue labels
# and formatted numbers, never text the customer typed.
asked = [(t("complaints.detail.plan"), i18n.label("plan_type", plan or "none"))]
if plan and plan != "none":
    months = _get("plan_months")
    asked += [(t("complaints.detail.plan_amount"), plans.format_amount(_get("plan_amount"))),
              (t("complaints.detail.plan_months"),
               t("complaints.detail.months_value", n=int(months)) if months is not None else "–")]
asked.append((t("complaints.detail.contact_time"), i18n.label("contact_time", _get("contact_time") or "any")))
st.subheader(t("complaints.detail.request_title"))
with st.container(border=True, horizontal=True, gap="large"):
    for label, value in asked:
        with st.container(width="content", gap=None):
            st.caption(label)
            st.markdown(f"**{value}**")

st.subheader(t("complaints.detail.facts"))
st.dataframe(pd.DataFrame({"field": [t(f"complaints.detail.{k}") for k, _ in facts],
                           "value": ["" if v is None else str(v) for _, v in facts]}),
             hide_index=True, width="stretch", key="cd_facts",
             column_config={"field": st.column_config.TextColumn(""), "value": st.column_config.TextColumn("")})

st.subheader(t("complaints.detail.narrative"))
with st.container(border=True):
    ui.plain_text(masking.mask_text(_get("narrative")) or "")

st.subheader(t("complaints.detail.actions_title"))
message = st.session_state.pop("cd_message", None)
if message:
    (st.success if message[0] == "ok" else st.error)(message[1])
tabs = st.tabs([t(f"complaints.detail.act_{k}") for k in
                ("triage", "assign", "status", "extend", "resolution", "root_cause", "substantiation")])
with tabs[0], st.form("cd_triage"):
    st.selectbox(t("complaints.detail.issue"), taxonomy.COMPLAINT_ISSUES, key="cd_issue",
                 index=taxonomy.COMPLAINT_ISSUES.index(row["issue"]) if row["issue"] in taxonomy.COMPLAINT_ISSUES else 0,
                 format_func=lambda v: i18n.label("issue", v))
    st.text_input(t("complaints.detail.sub_issue"), value=_get("sub_issue") or "", key="cd_sub_issue", max_chars=200)
    st.text_input(t("complaints.detail.note"), key="cd_note_triage")
    st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("triage",))
with tabs[1]:
    staff = complaints.assignees()
    if not staff:
        st.info(t("complaints.detail.no_assignees"), icon=":material/group_off:")
    else:
        with st.form("cd_assign"):
            current = _get("assignee")
            st.selectbox(t("complaints.detail.assignee"), staff, key="cd_assignee",
                         index=staff.index(current) if current in staff else None,
                         placeholder=t("complaints.detail.assignee_pick"))
            st.text_input(t("complaints.detail.note"), key="cd_note_assign")
            st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("assign",))
with tabs[2]:
    moves = complaints.TRANSITIONS.get(row["status"], ())
    if not moves:
        st.info(t("complaints.detail.no_moves"))
    else:
        with st.form("cd_move"):
            st.selectbox(t("complaints.detail.new_status"), moves, key="cd_status",
                         format_func=lambda v: i18n.label("status", v))
            st.text_input(t("complaints.detail.note"), key="cd_note_status")
            st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("status",))
with tabs[3], st.form("cd_extend"):
    st.radio(t("complaints.detail.extension_days"), (15, 45), key="cd_extension", horizontal=True,
             format_func=lambda v: t(f"complaints.detail.extension_{v}"))
    st.text_area(t("complaints.detail.reason"), key="cd_reason", max_chars=2000)
    st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("extend",))
with tabs[4], st.form("cd_resolve"):
    st.selectbox(t("complaints.detail.resolution_type"), taxonomy.RESOLUTIONS, key="cd_resolution",
                 format_func=lambda v: i18n.label("resolution", v))
    st.text_area(t("complaints.detail.public_text"), value=_get("public_resolution") or "", key="cd_public_text",
                 max_chars=complaints.NOTE_MAX)
    st.text_input(t("complaints.detail.note"), key="cd_note_resolution")
    st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("resolution",))
with tabs[5], st.form("cd_cause"):
    st.text_area(t("complaints.detail.root_cause"), value=_get("root_cause") or "", key="cd_root_cause",
                 max_chars=2000)
    st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("root_cause",))
with tabs[6], st.form("cd_finding"):
    st.radio(t("complaints.detail.substantiated_choice"), ("yes", "no"), key="cd_substantiated", horizontal=True,
             format_func=lambda v: t(f"complaints.detail.{v}"))
    st.text_area(t("complaints.detail.evidence"), value=_get("evidence") or "", key="cd_evidence",
                 max_chars=complaints.NOTE_MAX)
    st.form_submit_button(t("complaints.detail.save"), on_click=_act, args=("finding",))

st.subheader(t("plans.workbench.title"))
plan_notice = st.session_state.pop("cd_plan_message", None)
if plan_notice:
    # kept as catalogue keys by the callback (which runs before the page sets its language); the values
    # are ids and field names the server produced, never text a person typed
    level, parts = plan_notice
    notice = " ".join(t(key, **values) for key, values in parts)
    (st.success if level == "ok" else st.error)(notice)
today = plans.local_date(pd.Timestamp.now(tz="UTC").to_pydatetime())
plan_offers = plans.offers(complaint_id)
open_offer = next((o for o in plan_offers if o.is_open(today)), None)


def _plan_act(action: str, offer_id: int | None = None) -> None:
    """Run one plan action from its form's widgets; keep the outcome for the next run."""
    s = st.session_state
    try:
        if action == "offer":
            made = plans.offer(complaint_id, user.username, {
                "plan_type": s.cd_plan_type, "amount": s.cd_plan_amount, "instalments": s.cd_plan_instalments,
                "first_due_on": s.cd_plan_first_due}, note=s.cd_plan_note)
            s.cd_plan_message = ("ok", [("plans.workbench.offered", {"offer_id": made.offer_id})])
        elif action == "withdraw":
            plans.withdraw(offer_id, user.username, s.get(f"cd_plan_withdraw_note_{offer_id}"))
            s.cd_plan_message = ("ok", [("plans.workbench.withdrawn", {"offer_id": offer_id})])
        else:
            result = plans.answer(offer_id, s[f"cd_plan_choice_{offer_id}"] == "accept", user.username,
                                  channel=s[f"cd_plan_channel_{offer_id}"], note=s.get(f"cd_plan_answer_note_{offer_id}"))
            key = "plans.workbench.accepted" if result.plan_id else "plans.workbench.declined"
            s.cd_plan_message = ("ok", [(key, {"offer_id": offer_id, "plan_id": result.plan_id or ""})])
    except plans.PlanError as exc:
        s.cd_plan_message = ("error", [(exc.key, exc.values), *((k, {}) for k in exc.fields.values())])


if plan_offers:
    ui.table(plans.offers_frame(plan_offers, today), f"complaint_{complaint_id}_plan_offers", "cd_plan_offers")
    latest = plan_offers[0]
    if latest.status != "offered":
        answered = latest.answered_at.astimezone(plans.local_tz()).strftime("%Y-%m-%d %H:%M") if latest.answered_at else "–"
        st.text(t("plans.workbench.latest", offer_id=latest.offer_id,
                  status=i18n.label("offer_status", latest.shown_status(today)), by=latest.answered_by or "–",
                  at=answered, plan_id=latest.plan_id or "–"))
if open_offer is not None:
    with st.container(border=True):
        st.text(t("plans.workbench.open_offer", offer_id=open_offer.offer_id,
                  terms=plans.terms_text(open_offer.plan_type, open_offer.amount, open_offer.instalments,
                                         open_offer.first_due_on, lang=i18n.language())))
        st.table(plans.schedule_frame(open_offer.schedule).rename(columns=plans.schedule_labels()), hide_index=True)
        with st.form(f"cd_plan_answer_{open_offer.offer_id}"):
            st.caption(t("plans.workbench.answer_help"))
            st.radio(t("plans.workbench.choice"), ("accept", "decline"), horizontal=True,
                     key=f"cd_plan_choice_{open_offer.offer_id}", format_func=lambda v: t(f"plans.workbench.{v}"))
            st.selectbox(t("plans.workbench.channel"), [c for c in plans.ANSWER_CHANNELS if c != "ticket"],
                         key=f"cd_plan_channel_{open_offer.offer_id}",
                         format_func=lambda v: i18n.label("answer_channel", v))
            st.text_input(t("complaints.detail.note"), key=f"cd_plan_answer_note_{open_offer.offer_id}",
                          max_chars=plans.NOTE_MAX)
            st.form_submit_button(t("plans.workbench.record_answer"), on_click=_plan_act,
                                  args=("answer", open_offer.offer_id))
        with st.form(f"cd_plan_withdraw_{open_offer.offer_id}"):
            st.text_input(t("complaints.detail.note"), key=f"cd_plan_withdraw_note_{open_offer.offer_id}",
                          max_chars=plans.NOTE_MAX)
            st.form_submit_button(t("plans.workbench.withdraw"), on_click=_plan_act,
                                  args=("withdraw", open_offer.offer_id))
elif not plans.requests_plan(row["issue"], _get("plan_type")):
    st.info(t("plans.workbench.not_requested"), icon=":material/info:")
elif row["status"] == "closed":
    st.info(t("plans.err.complaint_closed"), icon=":material/info:")
elif _get("loan_id") is None:
    st.info(t("plans.err.no_loan"), icon=":material/info:")
else:
    asked_type = _get("plan_type") if _get("plan_type") in plans.PLAN_TYPES else "instalments"
    with st.form("cd_plan_offer"):
        st.caption(t("plans.workbench.offer_help"))
        st.radio(t("plans.workbench.plan_type"), plans.PLAN_TYPES, key="cd_plan_type", horizontal=True,
                 index=plans.PLAN_TYPES.index(asked_type), format_func=lambda v: i18n.label("plan_type", v))
        amount = _get("plan_amount")
        st.number_input(t("plans.workbench.amount"), min_value=0.0, step=100.0, format="%.2f", key="cd_plan_amount",
                        value=float(amount) if amount is not None else None)
        months = _get("plan_months")
        st.number_input(t("plans.workbench.instalments"), min_value=1, max_value=plans.PLAN_MAX_INSTALMENTS, step=1,
                        key="cd_plan_instalments",
                        value=int(months) if months is not None and asked_type == "instalments" else 1)
        st.date_input(t("plans.workbench.first_due_on"), value=today + pd.Timedelta(days=14), min_value=today,
                      max_value=today + pd.Timedelta(days=plans.FIRST_DUE_MAX_DAYS), key="cd_plan_first_due")
        st.text_input(t("complaints.detail.note"), key="cd_plan_note", max_chars=plans.NOTE_MAX)
        st.form_submit_button(t("plans.workbench.offer"), on_click=_plan_act, args=("offer",), type="primary")
plan_schedule = ui.run_query("repayment_plan_schedule", complaint_id=complaint_id)
if not plan_schedule.empty:
    st.caption(t("plans.workbench.schedule_caption"))
    shown = plan_schedule.assign(state=[i18n.label("instalment_state", v) for v in plan_schedule["state"]],
                                 plan_status=[i18n.label("plan_status", v) for v in plan_schedule["plan_status"]])
    ui.table(shown, f"complaint_{complaint_id}_plan_schedule", "cd_plan_schedule")

st.subheader(t("complaints.detail.loans_title"))
if _get("customer_id") is None:
    st.info(t("complaints.detail.no_customer"))
else:
    loans = ui.run_query("complaint_loans", complaint_id=complaint_id)
    history = loans.dropna(subset=["as_of"])
    if not history.empty:
        ui.chart(charts.dpd_history(history, t("complaints.detail.loans_title")), "cd_dpd")
    ui.table(loans, f"complaint_{complaint_id}_loans", "cd_loans")
    st.subheader(t("complaints.detail.contacts_title"))
    contacts = ui.run_query("complaint_contacts", complaint_id=complaint_id)
    if "complaint_breaches" in db.named_queries():
        breaches = ui.run_query("complaint_breaches", complaint_id=complaint_id, pack=config.setting("rule_pack"))
        contacts = complaints.mark_breaches(contacts, breaches)
        flagged = int((contacts["breach"] != "").sum())
        if "is_supported" in breaches.columns and bool(breaches["is_supported"].any()):
            st.warning(t("complaints.detail.supported", n=int(breaches["matches_issue"].sum())),
                       icon=":material/report:")
        st.caption(t("complaints.detail.breaches_count", n=flagged))
    else:
        st.caption(t("complaints.detail.breaches_pending"))
    if contacts.empty:
        st.info(t("complaints.detail.contacts_none"), icon=":material/call_end:")
    else:
        ui.table(contacts, f"complaint_{complaint_id}_contacts", "cd_contacts", model=schemas.ComplaintContactsView,
                 styler=lambda shown: shown.style.apply(
                     lambda r: ["background-color: #ffcdd2" if r.get("breach") else "" for _ in r], axis=1))

st.subheader(t("complaints.detail.events_title"))
ui.table(ui.run_query("complaint_history", complaint_id=complaint_id), f"complaint_{complaint_id}_events", "cd_events")
