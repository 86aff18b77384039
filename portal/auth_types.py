"""The signed-in user as the app shell sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    """A signed-in user: login name, role and display name."""

    username: str
    role: str
    display_name: str = ""
