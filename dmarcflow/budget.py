"""Budgets per input: decompressed bytes, members, parses and depth, counted across the whole input.

One ``InputBudget`` is made for each input (a file, an mbox message, an IMAP message) and handed
down through every layer of it, so that nesting or overlapping archive members cannot multiply a
limit: a zip of 64 zips of 64 members is 4,160 members of one input, not 64 at each level.
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from typing import IO

from dmarcflow.config import Limits
from dmarcflow.errors import ExtractError

RATIO_FLOOR = 1 << 20  # below 1 MiB of output the ratio check would only flag tiny inputs
# What a corrupt compressed stream or archive raises while being read (zipfile raises RuntimeError for an
# encrypted member and NotImplementedError for an unknown method; bz2 raises OSError).
DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (
    zlib.error, lzma.LZMAError, zipfile.BadZipFile, struct.error, OSError, EOFError, NotImplementedError, RuntimeError,
)


class InputBudget:
    """What one input may still produce; every decompressing stream and container draws from it."""

    def __init__(self, limits: Limits, input_size: int) -> None:
        self.limits = limits
        self.max_bytes = min(limits.max_total_bytes, max(input_size * limits.max_ratio, RATIO_FLOOR))
        self.decompressed = 0
        self.members = 0
        self.parses = 0

    def stream_limit(self, compressed_size: int) -> int:
        """The most one decompressing stream may produce: its own ratio, within the input's total."""
        return min(self.max_bytes, max(compressed_size * self.limits.max_ratio, RATIO_FLOOR))

    def take_members(self, count: int) -> None:
        """Archive entries and mail parts, counted over every layer of the input."""
        self.members += count
        if self.members > self.limits.max_members:
            raise ExtractError(
                "too_large", f"the input has more than {self.limits.max_members} archive members and mail parts in all"
            )

    def take_parse(self) -> None:
        """One report payload to parse."""
        self.parses += 1
        if self.parses > self.limits.max_members:
            raise ExtractError("too_large", f"the input holds more than {self.limits.max_members} report documents")

    def check_depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise ExtractError("too_large", f"nested deeper than {self.limits.max_depth} levels")

    def meter(self) -> Meter:
        return Meter(self)


class Meter:
    """Charges the budget for one decompressed stream, once per byte, however often it is re-read."""

    def __init__(self, budget: InputBudget) -> None:
        self._budget = budget
        self._high = 0

    def charge(self, position: int) -> None:
        if position <= self._high:
            return
        budget = self._budget
        budget.decompressed += position - self._high
        self._high = position
        if budget.decompressed > budget.max_bytes:
            raise ExtractError("too_large", f"the input decompresses to more than {budget.max_bytes} bytes in all")


class BoundedReader(io.RawIOBase):
    """A decompressing stream capped by its own limit and charged to the input's budget."""

    def __init__(self, inner: IO[bytes] | io.RawIOBase, limit: int, what: str, meter: Meter) -> None:
        self._inner = inner
        self._limit = limit
        self._what = what
        self._meter = meter
        self._seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except ExtractError:
            raise
        except DECOMPRESSION_ERRORS as exc:
            raise ExtractError("unreadable", f"{self._what}: cannot decompress: {type(exc).__name__}: {exc}") from None
        self._seen += len(data)
        if self._seen > self._limit:
            raise ExtractError("too_large", f"{self._what} decompresses to more than {self._limit} bytes")
        self._meter.charge(self._seen)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def bounded(inner: IO[bytes] | io.RawIOBase, limit: int, what: str, meter: Meter) -> IO[bytes]:
    return io.BufferedReader(BoundedReader(inner, limit, what, meter), buffer_size=1 << 16)
