"""Repository for what `dmarcflow check` reads from and writes to the store.

Reads: the DKIM (domain, selector) pairs each source IP used in a policy domain's
reports (from the records table: selectors are not in the rollup). Writes: the
latest check result per domain (``dns_checks``), which ``summary`` shows, and the one before it
(``dns_checks_previous``), which ``check_cache`` reads for the ``dns_changed`` alert.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dmarcflow.models import Finding, StoredCheck
from dmarcflow.store.repository import Repository


@dataclass(frozen=True)
class DkimUse:
    """One source IP's DKIM results for a policy domain, as stored (JSON list of domain/selector/result)."""

    ip: str
    results_json: str
    messages: int


class CheckRepository(Repository):
    def dkim_uses(self, domain: str, begin_ts: int, end_ts: int) -> Iterator[DkimUse]:
        """Distinct (source IP, DKIM results) of the domain's active reports beginning in [begin_ts, end_ts).

        This scans the domain's records (the rollup keeps no selectors); `check` is not a hot path.
        """
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT r.source_ip, r.dkim, SUM(r.count) FROM records r JOIN reports p ON p.id = r.report "
                "WHERE p.domain = ? AND p.status = 'active' AND p.begin_ts >= ? AND p.begin_ts < ? "
                "AND r.dkim != '[]' GROUP BY r.source_ip, r.dkim",
                (domain, begin_ts, end_ts),
            )
            for ip, results, messages in rows:
                yield DkimUse(ip, results, int(messages))

    def save(self, domain: str, checked_at: int, result: dict[str, Any]) -> None:
        """The domain's latest check; the one it replaces is kept as its previous (``check_cache.pairs``)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO dns_checks_previous (domain, checked_at, result) "
            "SELECT domain, checked_at, result FROM dns_checks WHERE domain = ?", (domain,))
        self._conn.execute(
            "INSERT INTO dns_checks (domain, checked_at, result) VALUES (?, ?, ?) ON CONFLICT(domain) DO UPDATE SET "
            "checked_at = excluded.checked_at, result = excluded.result",
            (domain, checked_at, json.dumps(result, separators=(",", ":"), default=str)),
        )

    def latest(self, domain: str) -> StoredCheck | None:
        """The last check of the domain, or None (also when the store predates the table)."""
        with self._reading() as conn:
            try:
                row = conn.execute("SELECT checked_at, result FROM dns_checks WHERE domain = ?", (domain,)).fetchone()
            except sqlite3.OperationalError:  # a read-only store at an older schema
                return None
        if row is None:
            return None
        findings = tuple(finding_of(f) for f in json.loads(row[1]).get("findings", []) if isinstance(f, dict))
        return StoredCheck(domain, int(row[0]), findings)


_FIELDS = ("code", "severity", "message", "fix", "name")


def finding_of(data: dict[str, Any]) -> Finding:
    details = tuple((k, v) for k, v in data.items() if k not in _FIELDS)
    return Finding(str(data.get("code", "")), str(data.get("severity", "")), str(data.get("message", "")),
                   str(data.get("fix", "")), data.get("name"), details)
