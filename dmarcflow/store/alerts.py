"""Alert state, delivery state and schedule state: the SQL behind `dmarcflow alerts` and the digest schedule.

Every method that changes state runs inside the caller's ``Store.transaction()`` (BEGIN IMMEDIATE), so two
processes evaluating at once are serialised and cannot both raise the same alert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dmarcflow.models import Alert, RaisedAlert
from dmarcflow.store.repository import Repository

_COLUMNS = "id, key, rule, domain, severity, message, fix, details, first_seen, last_seen, cleared_at"


@dataclass(frozen=True)
class Transition:
    raised: tuple[RaisedAlert, ...]
    cleared: tuple[RaisedAlert, ...]
    still_open: int


@dataclass(frozen=True)
class PendingDelivery:
    alert: RaisedAlert
    channel: str
    attempts: int
    last_error: str | None


class AlertStore(Repository):
    """``alerts``, ``alert_deliveries`` and ``schedule_runs``."""

    def open_alerts(self) -> dict[str, RaisedAlert]:
        rows = self._rows(f"SELECT {_COLUMNS} FROM alerts WHERE cleared_at IS NULL ORDER BY id")
        return {row[1]: _raised(row) for row in rows}

    def get(self, alert_id: int) -> RaisedAlert | None:
        row = self._row(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        return _raised(row) if row else None

    def apply(self, found: Sequence[Alert], rules: Iterable[str], channels: Sequence[str], now: str) -> Transition:
        """Raise the new conditions, refresh the open ones, clear the open ones of ``rules`` no longer found.

        Call inside a transaction. Alerts of rules not evaluated this time (switched off) are left alone.
        """
        current = self.open_alerts()
        evaluated = set(rules)
        found_keys = {a.key for a in found}
        raised = []
        for alert in {a.key: a for a in found}.values():
            if alert.key in current:
                self._conn.execute("UPDATE alerts SET last_seen = ? WHERE id = ?", (now, current[alert.key].id))
            else:
                raised.append(self._insert(alert, channels, now))
        cleared = []
        for key, old in current.items():
            if old.alert.rule in evaluated and key not in found_keys:
                self._conn.execute("UPDATE alerts SET cleared_at = ? WHERE id = ?", (now, old.id))
                cleared.append(RaisedAlert(old.id, old.alert, old.first_seen, old.last_seen, now))
        still_open = len(current) - len(cleared) + len(raised)
        return Transition(tuple(raised), tuple(cleared), still_open)

    def _insert(self, alert: Alert, channels: Sequence[str], now: str) -> RaisedAlert:
        cur = self._conn.execute(
            "INSERT INTO alerts (key, rule, domain, severity, message, fix, details, first_seen, last_seen) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (alert.key, alert.rule, alert.domain, alert.severity, alert.message, alert.fix,
             json.dumps(dict(alert.details), sort_keys=True), now, now),
        )
        alert_id = int(cur.lastrowid or 0)
        self._conn.executemany(
            "INSERT INTO alert_deliveries (alert, channel, status) VALUES (?, ?, 'pending')",
            [(alert_id, channel) for channel in dict.fromkeys(channels)],
        )
        return RaisedAlert(alert_id, alert, now, now)

    def pending(self, channels: Sequence[str], due_by: int | None = None) -> list[PendingDelivery]:
        """Pending deliveries to these channels, oldest alert first; only those due by ``due_by`` if given."""
        rows = self._rows(
            f"SELECT {', '.join('a.' + c for c in _COLUMNS.split(', '))}, d.channel, d.attempts, d.last_error "
            "FROM alert_deliveries d JOIN alerts a ON a.id = d.alert "
            "WHERE d.status = 'pending' AND d.channel IN (SELECT value FROM json_each(?)) "
            "AND d.next_attempt_ts <= ? ORDER BY a.id, d.channel",
            (json.dumps(list(channels)), 2**62 if due_by is None else due_by),
        )
        return [PendingDelivery(_raised(r[:11]), channel=r[11], attempts=r[12], last_error=r[13]) for r in rows]

    def count_pending(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM alert_deliveries WHERE status = 'pending'"))

    def delivered(self, alert_id: int, channel: str, now: str) -> None:
        self._conn.execute(
            "UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, "
            "last_error = NULL WHERE alert = ? AND channel = ? AND status = 'pending'",
            (now, alert_id, channel),
        )

    def failed(self, alert_id: int, channel: str, error: str, next_attempt_ts: int) -> None:
        self._conn.execute(
            "UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_ts = ? "
            "WHERE alert = ? AND channel = ? AND status = 'pending'",
            (error, next_attempt_ts, alert_id, channel),
        )

    def postpone(self, channel: str, next_attempt_ts: int) -> None:
        """A channel is down: every pending delivery to it waits until then (attempt counts unchanged)."""
        self._conn.execute(
            "UPDATE alert_deliveries SET next_attempt_ts = MAX(next_attempt_ts, ?) WHERE channel = ? AND status = 'pending'",
            (next_attempt_ts, channel),
        )

    def deliveries(self, alert_id: int) -> dict[str, str]:
        rows = self._rows("SELECT channel, status FROM alert_deliveries WHERE alert = ? ORDER BY channel", (alert_id,))
        return {str(channel): str(status) for channel, status in rows}

    # ------------------------------------------------------------------ schedules

    def last_slot(self, name: str) -> int | None:
        row = self._row("SELECT last_slot_ts FROM schedule_runs WHERE name = ?", (name,))
        return int(row[0]) if row else None

    def set_last_slot(self, name: str, slot_ts: int, now: str) -> None:
        self._conn.execute(
            "INSERT INTO schedule_runs (name, last_slot_ts, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_slot_ts = excluded.last_slot_ts, updated_at = excluded.updated_at",
            (name, slot_ts, now),
        )


def _raised(row: Sequence[Any]) -> RaisedAlert:
    """A row of _COLUMNS (id, key, rule, domain, severity, message, fix, details, first_seen, last_seen, cleared_at)."""
    alert_id, key, rule, domain, severity, message, fix, details, first_seen, last_seen, cleared_at = row
    alert = Alert(rule=str(rule), domain=str(domain), key=str(key), severity=str(severity), message=str(message),
                  fix=None if fix is None else str(fix), details=tuple(json.loads(str(details)).items()))
    return RaisedAlert(int(alert_id), alert, str(first_seen), str(last_seen),
                       None if cleared_at is None else str(cleared_at))
