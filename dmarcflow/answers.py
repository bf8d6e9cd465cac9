"""The JSON answers: what ``--format json`` prints and what the web API returns, from one serialiser each.

The CLI and the web API call the same library function for a question and pass its result through the
same function here, so their answers are equal by construction (and ``to_json`` makes them byte-equal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson

from dmarcflow.cycles import collector_paused

_ORJSON = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# The floats orjson spells otherwise than Python: below 1e-4 (0.00001 for 1e-05, 1e-7 for 1e-07). A number is
# the only token that ends an indented line with a digit (a string ends with its quote).
_SMALL_FLOAT = re.compile(r"(?:(?<= )|^)(-?[0-9][0-9.]*e-[0-9]+|-?0\.0000[0-9]*)(?=,?$)", re.MULTILINE)


class _AsDict(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def to_json(data: Any) -> str:
    """The answer as ``json.dumps(data, indent=2, ensure_ascii=False, default=str)`` writes it, byte for byte.

    orjson writes it (a summary holds hundreds of thousands of values, and the standard encoder is
    pure Python when it indents); the floats it spells otherwise (those below 1e-4) are spelled again as
    Python does, and what it refuses (keys that are not strings, integers past 64 bits, lone surrogates) is
    written by the standard encoder. Answers hold no NaN or infinity (every ratio is guarded), the one
    value the two would write differently beyond repair.
    """
    try:
        encoded = orjson.dumps(data, default=str, option=_ORJSON)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)
    text = encoded.decode()
    if _may_hold_small_floats(encoded):
        text = _SMALL_FLOAT.sub(lambda m: repr(float(m.group(0))), text)
    return text


def _may_hold_small_floats(encoded: bytes) -> bool:
    """Whether a float below 1e-4 may be in the text: a digit before "e-", or "0.0000" (two substring scans,
    far cheaper than the pattern over megabytes)."""
    for mark, before in ((b"e-", b"0123456789"), (b"0.0000", b" -")):
        at = encoded.find(mark)
        while at >= 0:
            if at == 0 or encoded[at - 1] in before:
                return True
            at = encoded.find(mark, at + 1)
    return False


def domain_name(name: str) -> str:
    """A policy domain as the store keeps it."""
    return name.strip().lower().rstrip(".")


def summary_answer(summaries: Iterable[_AsDict]) -> dict[str, Any]:
    """``dmarcflow summary --format json`` and ``GET /api/summary``."""
    with collector_paused():
        return {"domains": [s.as_dict() for s in summaries]}


def senders_answer(domain: str, sources: Iterable[_AsDict]) -> dict[str, Any]:
    """``dmarcflow senders DOMAIN --format json`` and ``GET /api/senders/DOMAIN``."""
    with collector_paused():
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
