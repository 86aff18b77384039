"""Entry point: navigation by role, the shared sidebar, then the chosen page."""

import streamlit as st

import portal.startup  # noqa: F401 (registers the data layer's hooks)
from portal import navigation, ui
from portal.i18n import t

ui.setup()
ui.session_guard()
role = ui.current_role()


def _gate(spec: navigation.PageSpec):
    def gate() -> None:
        st.title(t(f"nav.{spec.key}"))
        ui.signin_prompt()

    gate.__name__ = f"gate_{spec.key}"
    return gate


sections: dict[str, list] = {}
for spec in navigation.PAGES:
    allowed = navigation.may_open(role, spec.key)
    listed = navigation.listed(role, spec.key)
    sections.setdefault(t(f"nav.section.{spec.section}"), []).append(
        st.Page(
            ui.APP_PAGES / spec.script if allowed else _gate(spec),
            title=t(f"nav.{spec.key}"),
            icon=spec.icon,
            url_path=spec.key,
            default=spec.default,
            visibility="visible" if listed else "hidden",
        )
    )
# expanded: every page a role may open is listed (no "View N more" that hides Audit trail and Conduct)
current = st.navigation(sections, expanded=True)
ui.follow_next()
ui.account_box()
ui.language_switch()
current.run()
