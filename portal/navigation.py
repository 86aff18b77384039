"""The page registry: every page, its section and the roles that may open it."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("customer", "executive", "compliance", "analyst", "admin")
STAFF = frozenset({"executive", "compliance", "analyst", "admin"})
EVERYONE = frozenset(ROLES)


@dataclass(frozen=True)
class PageSpec:
    """A page: its key (URL path and catalogue key `nav.<key>`), script, section, icon and roles."""

    key: str
    script: str
    section: str
    icon: str
    roles: frozenset[str]
    default: bool = False


PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "home.py", "public", ":material/home:", EVERYONE, default=True),
    PageSpec("overview", "overview.py", "executive", ":material/dashboard:", STAFF),
    PageSpec("delinquency", "delinquency.py", "executive", ":material/trending_up:", STAFF),
    PageSpec("funnels", "funnels.py", "executive", ":material/filter_alt:", STAFF),
    PageSpec("channels", "channels.py", "executive", ":material/campaign:", STAFF),
    PageSpec("repayment_plans", "repayment_plans.py", "executive", ":material/event_repeat:", STAFF),
    PageSpec("improvement", "improvement.py", "compliance", ":material/published_with_changes:",
             frozenset({"compliance", "analyst", "executive", "admin"})),
    PageSpec("users", "users.py", "admin", ":material/manage_accounts:", frozenset({"admin"})),
    PageSpec("feedback", "feedback.py", "public", ":material/rate_review:", EVERYONE),
    PageSpec("ticket", "ticket.py", "public", ":material/confirmation_number:", EVERYONE),
    PageSpec("rights", "rights.py", "public", ":material/gavel:", EVERYONE),
    PageSpec("complaints_queue", "complaints_queue.py", "compliance", ":material/inbox:", frozenset({"compliance", "admin"})),
    PageSpec("complaint_detail", "complaint_detail.py", "compliance", ":material/assignment:", frozenset({"compliance", "admin"})),
    PageSpec("complaint_trends", "complaint_trends.py", "compliance", ":material/insights:", frozenset({"compliance", "executive", "admin"})),
    PageSpec("audit", "audit.py", "compliance", ":material/verified_user:", frozenset({"compliance", "admin"})),
    PageSpec("conduct", "conduct.py", "compliance", ":material/policy:",
             frozenset({"compliance", "executive", "admin"})),
    PageSpec("uploads", "uploads.py", "analyst", ":material/upload_file:", frozenset({"analyst", "admin"})),
    PageSpec("upload_history", "upload_history.py", "analyst", ":material/history:", frozenset({"analyst", "admin"})),
    PageSpec("signin", "signin.py", "account", ":material/login:", EVERYONE),
)

SECTIONS = ("public", "executive", "compliance", "analyst", "admin", "account")


def pages_for(role: str | None) -> list[PageSpec]:
    """The pages a role may open, in registry order (anonymous users are customers)."""
    role = role or "customer"
    return [p for p in PAGES if role in p.roles]


def page(key: str) -> PageSpec:
    """Look up one page by key."""
    for spec in PAGES:
        if spec.key == key:
            return spec
    raise KeyError(key)


def may_open(role: str | None, key: str) -> bool:
    """Whether a role may open a page."""
    return (role or "customer") in page(key).roles


def listed(role: str | None, key: str) -> bool:
    """Whether the menu lists a page: one the role may open, less "Sign in" once signed in."""
    if key == "signin" and (role or "customer") != "customer":
        return False
    return may_open(role, key)
