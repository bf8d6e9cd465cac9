"""Untrusted JSON bytes -> Python values, bounded, with every failure a ``ParseError``.

Anyone can mail a forged report, so the decoder is fenced on every side: the byte size and the number
of objects and arrays are capped before decoding (memory stays proportional to a small input),
nesting too deep for the decoder is ``too_large``, numbers with more digits than any count can have
are kept as text (a field that needs a count then says ``invalid_value``), ``NaN``/``Infinity`` and
repeated keys are ``malformed_json``, and invalid UTF-8 is replaced (the ``invalid_bytes_replaced`` warning).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

from dmarcflow.errors import ParseError

_BOM = b"\xef\xbb\xbf"
# A count fits in 63 bits: 19 digits. Longer literals stay text rather than costing a big-int parse.
_MAX_INT_DIGITS = 20


@dataclass(frozen=True)
class JsonLimits:
    max_bytes: int
    max_containers: int  # objects plus arrays in one document


@dataclass(frozen=True)
class Decoded:
    value: Any
    warnings: tuple[str, ...]


class HugeNumber(str):
    """A number literal too long to be a count, kept as its text."""

    __slots__ = ()


def read_bounded(stream: IO[bytes], limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of the stream; more is ``too_large`` (the rest is never read)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ParseError("too_large", f"{what} is larger than {limit} bytes; it is refused unread")
    return data


def decode(data: bytes, limits: JsonLimits, what: str) -> Decoded:
    if len(data) > limits.max_bytes:
        raise ParseError("too_large", f"{what} is larger than {limits.max_bytes} bytes")
    warnings: list[str] = []
    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Structural characters are ASCII, so replacing invalid bytes changes only text values.
        text = data.decode("utf-8", errors="replace")
        warnings.append("invalid_bytes_replaced")
    containers = text.count("{") + text.count("[")  # counts brackets inside strings too: a safe over-estimate
    if containers > limits.max_containers:
        raise ParseError("too_large", f"{what} has more than {limits.max_containers} JSON objects and arrays")
    try:
        value = json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ParseError("too_large", f"{what} nests JSON too deeply") from None
    except _DuplicateKey as exc:
        raise ParseError("malformed_json", f"{what} repeats the key {str(exc)[:60]!r} in one object") from None
    except ValueError as exc:  # JSONDecodeError, and the constants refused below
        raise ParseError("malformed_json", f"{what} is not valid JSON: {str(exc)[:200]}") from None
    return Decoded(value, tuple(warnings))


class _DuplicateKey(Exception):
    pass


def _parse_int(literal: str) -> int | HugeNumber:
    digits = literal.lstrip("-")
    if len(digits) > _MAX_INT_DIGITS:
        return HugeNumber(literal[:40])
    return int(literal)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out

