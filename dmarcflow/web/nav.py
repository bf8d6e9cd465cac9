"""The navigation bar: one entry per kind of page.

An entry without a path is a page that is planned but not built yet: it is shown greyed out with
its note, never as a link to an empty page (a new page: set its path and add the route in app.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    key: str
    title: str
    path: str | None
    note: str = ""


NAV = (
    NavEntry("overview", "Overview", "/"),
    NavEntry("reports", "Reports", "/reports"),
    NavEntry("rejected", "Rejected inputs", "/rejected"),
    NavEntry("tls", "TLS reports", "/tls"),
    NavEntry("failure", "Failure reports", "/failures"),
    NavEntry("posture", "DNS posture", "/dns"),
)
