"""What became of one input (``InputOutcome``) and of each payload in it (``PayloadOutcome``).

Every input ends as exactly one of ingested, duplicate, conflict or rejected (see ``ingest``);
``combine`` makes that one outcome from its payloads', the most serious of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["InputOutcome", "PayloadOutcome", "combine"]

_STATUS_RANK = {"rejected": 3, "conflict": 2, "ingested": 1, "duplicate": 0}
_NOTED_IN_MESSAGE = 3


@dataclass(frozen=True)
class PayloadOutcome:
    name: str
    status: str  # ingested | duplicate | conflict | rejected | skipped (not a report: noted, not an error)
    reason: str | None = None
    message: str | None = None
    records: int = 0
    messages: int = 0
    warnings: tuple[str, ...] = ()
    kind: str | None = None  # the report kind the payload's content said it was (None: not a report)


@dataclass(frozen=True)
class InputOutcome:
    path: str
    status: str
    reason: str | None
    message: str | None
    reports: int
    records: int
    messages: int
    payloads: tuple[PayloadOutcome, ...] = field(default=())

    @property
    def warnings(self) -> tuple[str, ...]:
        """The quirks read in this input's reports (those stored or found already stored)."""
        return tuple(sorted({w for p in self.payloads for w in p.warnings}))

    @property
    def skipped(self) -> tuple[PayloadOutcome, ...]:
        return tuple(p for p in self.payloads if p.status == "skipped")

    @property
    def kind(self) -> str | None:
        """The report kind of what the input holds: aggregate, tls or failure; "mixed"; None when nothing was one."""
        kinds = {p.kind for p in self.payloads if p.kind is not None and p.status != "skipped"}
        return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "reports": self.reports,
            "records": self.records,
            "messages": self.messages,
            "warnings": list(self.warnings),
            "skipped": [{"part": p.name, "reason": p.reason, "message": p.message} for p in self.skipped],
        }


def combine(path: str, outcomes: list[PayloadOutcome]) -> InputOutcome:
    """One outcome for the input: the most serious of its payloads'; parts that are no report do not count."""
    judged = [o for o in outcomes if o.status != "skipped"]
    if not judged:
        first = outcomes[0] if outcomes else PayloadOutcome(path, "skipped", "not_a_report", "no report found in the input")
        reason = "empty" if all(o.reason == "empty" for o in outcomes) and outcomes else "not_a_report"
        return InputOutcome(path, "rejected", reason, _nothing_found(outcomes) or first.message, 0, 0, 0, tuple(outcomes))
    worst = max(judged, key=lambda o: _STATUS_RANK[o.status])
    stored = [o for o in judged if o.status in ("ingested", "conflict", "duplicate")]
    return InputOutcome(
        path=path,
        status=worst.status,
        reason=worst.reason,
        message=worst.message,
        reports=len(stored),
        records=sum(o.records for o in stored),
        messages=sum(o.messages for o in stored),
        payloads=tuple(outcomes),
    )


def _nothing_found(skipped: list[PayloadOutcome]) -> str | None:
    if len(skipped) < 2:
        return None
    listed = "; ".join(f"{o.name}: {o.message}" for o in skipped[:_NOTED_IN_MESSAGE])
    more = f"; {len(skipped) - _NOTED_IN_MESSAGE} more" if len(skipped) > _NOTED_IN_MESSAGE else ""
    return f"no report in the input ({len(skipped)} parts): {listed}{more}"
