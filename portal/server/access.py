"""Which roles may run each named query through the API: the roles of the pages that show it.

A page declares the queries it shows by calling `ui.run_query("NAME", ...)` (or `run_user_query`, or
`ui.drill_down("NAME", ...)` for the rows behind a chart); those calls are read from the page scripts, so a new page or query needs no second list. Queries that pages
show through a domain module (the board pack, the what-if, the risk model) or the shared sidebar are
named in SHOWN_ELSEWHERE. A query no page shows is for admins only.
"""

from __future__ import annotations

import re
from functools import cache

from portal import navigation
from portal.config import PACKAGE_DIR

_CALL_RE = re.compile(r"""\b(?:run_(?:user_)?query|drill_down)\(\s*["']([a-z][a-z0-9_]*)["']""")
SIDEBAR_PAGES = ("overview", "delinquency", "funnels", "channels")
SHOWN_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "filter_options": SIDEBAR_PAGES,  # ui.sidebar_filters
    "month_ends": SIDEBAR_PAGES,  # ui.sidebar_filters, ui.month_picker
    "policy_what_if": ("conduct",),  # policy.what_if
    "risk_features": ("improvement",),  # risk.analyse
    "risk_channel_outcomes": ("improvement",),
    "roll_rates": ("overview",),  # report.board_pack
    "overview_kpis": ("overview",),
    "delinquency_buckets": ("overview",),
    "vintage_curves": ("overview",),
    "roll_forecast": ("delinquency",),  # forecast.forecast_frame
    "roll_forecast_backtest": ("delinquency",),  # forecast.backtest_frame
    "alert_history": ("overview",),  # alerts.check
    "contact_check": ("conduct",),  # prevention.check_file (Plan check); POST /api/v1/contact-check
}


@cache
def pages_showing() -> dict[str, frozenset[str]]:
    """Each query name -> the keys of the pages that show it."""
    out: dict[str, set[str]] = {}
    for spec in navigation.PAGES:
        source = (PACKAGE_DIR / "app_pages" / spec.script).read_text(encoding="utf-8")
        for name in _CALL_RE.findall(source):
            out.setdefault(name, set()).add(spec.key)
    for name, keys in SHOWN_ELSEWHERE.items():
        out.setdefault(name, set()).update(keys)
    return {name: frozenset(keys) for name, keys in out.items()}


def roles_for(query: str) -> frozenset[str]:
    """The staff roles that may run a query: those that may open a page showing it (admin always)."""
    roles = {"admin"}
    for key in pages_showing().get(query, ()):
        roles |= navigation.page(key).roles & navigation.STAFF
    return frozenset(roles)


def may_run(role: str | None, query: str) -> bool:
    """Whether a token of this role may run the query."""
    return role in roles_for(query)
