"""The JSON answers: what ``--format json`` prints and what the web API returns, from one serialiser each.

The CLI and the web API call the same library function for a question and pass its result through the
same function here, so their answers are equal by construction (and ``to_json`` makes them byte-equal).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class _AsDict(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def domain_name(name: str) -> str:
    """A policy domain as the store keeps it."""
    return name.strip().lower().rstrip(".")


def summary_answer(summaries: Iterable[_AsDict]) -> dict[str, Any]:
    """``dmarcflow summary --format json`` and ``GET /api/summary``."""
    return {"domains": [s.as_dict() for s in summaries]}


def senders_answer(domain: str, sources: Iterable[_AsDict]) -> dict[str, Any]:
    """``dmarcflow senders DOMAIN --format json`` and ``GET /api/senders/DOMAIN``."""
    return {"domain": domain_name(domain), "sources": [s.as_dict() for s in sources]}


def rows_answer(rows: Sequence[_AsDict]) -> list[dict[str, Any]]:
    """``dmarcflow reports`` / ``rejected --format json`` and ``GET /api/reports`` / ``/api/rejected``."""
    return [r.as_dict() for r in rows]


def checks_answer(checks: Iterable[_AsDict]) -> dict[str, Any]:
    """``dmarcflow check [--cached] --format json`` and ``GET /api/checks``."""
    return {"domains": [c.as_dict() for c in checks]}


def tls_answer(summaries: Iterable[_AsDict]) -> dict[str, Any]:
    """``dmarcflow tls summary --format json`` and ``GET /api/tls``."""
    return {"domains": [s.as_dict() for s in summaries]}


def failures_answer(listing: _AsDict) -> dict[str, Any]:
    """``dmarcflow failures --format json`` and ``GET /api/failures``."""
    return listing.as_dict()
