"""The ``records`` table's row read back as the model's ``Record`` (auth results and reasons are JSON there)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dmarcflow.models import Alignment, DkimResult, OverrideReason, Record, SpfResult

# The columns ``decode`` reads, in its order.
COLUMNS = ("source_ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, "
           "dkim, spf, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class")


def decode(row: Sequence[Any]) -> Record:
    """A row of ``COLUMNS`` as the Record it was stored from."""
    return Record(
        source_ip=row[0], count=row[1], disposition=row[2], dkim_evaluated=row[3], spf_evaluated=row[4],
        header_from=row[5], envelope_from=row[6], envelope_to=row[7], reasons=reasons(row[8]),
        dkim=tuple(DkimResult(d.get("domain") or "", d.get("selector"), d.get("result") or "", d.get("human_result"))
                   for d in _objects(row[9])),
        spf=tuple(SpfResult(s.get("domain") or "", s.get("scope") or "", s.get("result") or "", s.get("human_result"))
                  for s in _objects(row[10])),
        alignment=Alignment(bool(row[11]), bool(row[12]), row[13], row[14]), source_class=row[15],
    )


def reasons(text: str | None) -> tuple[OverrideReason, ...]:
    """Override reasons; stored as [{"type", "comment"}] (and by early versions as [[type, comment]])."""
    out = []
    for item in _list(text):
        if isinstance(item, dict):
            out.append(OverrideReason(str(item.get("type") or ""), item.get("comment")))
        elif isinstance(item, list) and item:
            out.append(OverrideReason(str(item[0] or ""), item[1] if len(item) > 1 else None))
    return tuple(out)


def _list(text: str | None) -> list[Any]:
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []


def _objects(text: str | None) -> list[dict[str, Any]]:
    return [item for item in _list(text) if isinstance(item, dict)]
