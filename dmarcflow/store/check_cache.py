"""Repository for reading the cached `dmarcflow check` results whole: records, findings and report links.

``dns_checks`` holds the latest check of each domain and ``dns_checks_previous`` the one before it (see
``CheckRepository.save``). The DNS posture page and ``check --cached`` read the latest ones; the
``dns_changed`` alert compares the two.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dmarcflow.models import StoredCheck
from dmarcflow.store.checks import finding_of


@dataclass(frozen=True)
class CheckPair:
    """The two latest checks of a domain, oldest first."""

    previous: StoredCheck
    latest: StoredCheck


class CheckCache:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def latest(self, domains: Iterable[str] = ()) -> list[StoredCheck]:
        """The latest check of each domain named (in that order; those never checked are left out), or of
        every checked domain in name order when none is named."""
        wanted = list(dict.fromkeys(domains))
        if not wanted:
            rows = self._conn.execute("SELECT domain, checked_at, result FROM dns_checks ORDER BY domain")
            return [stored_check(*row) for row in rows]
        found = {}
        for domain in wanted:
            row = self._conn.execute("SELECT domain, checked_at, result FROM dns_checks WHERE domain = ?",
                                     (domain,)).fetchone()
            if row is not None:
                found[domain] = stored_check(*row)
        return [found[d] for d in wanted if d in found]

    def pairs(self) -> list[CheckPair]:
        """Every domain checked at least twice: its previous and latest check, in domain order."""
        rows = self._conn.execute(
            "SELECT c.domain, p.checked_at, p.result, c.checked_at, c.result FROM dns_checks c "
            "JOIN dns_checks_previous p ON p.domain = c.domain ORDER BY c.domain")
        return [CheckPair(stored_check(domain, before_ts, before), stored_check(domain, ts, result))
                for domain, before_ts, before, ts, result in rows]


def stored_check(domain: str, checked_at: int, text: str) -> StoredCheck:
    """A saved result read back; a value of the wrong shape (the store was edited by hand) reads as empty."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    findings = data.get("findings")
    records = data.get("records")
    reports = data.get("reports")
    return StoredCheck(
        domain, int(checked_at),
        tuple(finding_of(f) for f in findings if isinstance(f, dict)) if isinstance(findings, list) else (),
        records if isinstance(records, dict) else {},
        reports if isinstance(reports, dict) else None,
    )
