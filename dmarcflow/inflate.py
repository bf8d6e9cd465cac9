"""gzip (every member) and bare zlib streams, decompressed a bounded chunk at a time.

Written on zlib directly rather than the gzip module so that what follows a stream is seen and
judged: zero padding (some reporters pad to a block size) is read with a warning, another gzip
member is read on, anything else is corrupt.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from typing import IO

from dmarcflow.errors import ExtractError

_CHUNK = 1 << 16
GZIP, ZLIB = "gzip", "zlib"
_WBITS = {GZIP: 31, ZLIB: 15}


class InflateStream(io.RawIOBase):
    def __init__(self, inner: IO[bytes], fmt: str, what: str, warn: Callable[[str], None]) -> None:
        self._inner = inner
        self._fmt = fmt
        self._what = what
        self._warn = warn
        self._d = zlib.decompressobj(_WBITS[fmt])
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._fill()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _fill(self) -> None:
        d = self._d
        if d.eof:
            self._after_stream(d.unused_data)
            return
        data = d.unconsumed_tail or self._inner.read(_CHUNK)
        if not data:
            raise ExtractError("unreadable", f"{self._what}: the {self._fmt} stream is truncated")
        self._pending = self._inflate(data)

    def _inflate(self, data: bytes) -> bytes:
        try:
            return self._d.decompress(data, _CHUNK)
        except zlib.error as exc:
            raise ExtractError("unreadable", f"{self._what}: cannot decompress: {exc}") from None

    def _after_stream(self, rest: bytes) -> None:
        while len(rest) < 2:
            more = self._inner.read(_CHUNK)
            if not more:
                break
            rest += more
        if not rest:
            self._done = True
        elif self._fmt == GZIP and rest[:2] == b"\x1f\x8b":
            self._d = zlib.decompressobj(_WBITS[GZIP])  # a multi-member gzip file: read on
            self._pending = self._inflate(rest)
        elif not rest.strip(b"\x00"):
            self._skip_padding()
        else:
            raise ExtractError("unreadable", f"{self._what}: unexpected data after the end of the {self._fmt} stream")

    def _skip_padding(self) -> None:
        while chunk := self._inner.read(_CHUNK):
            if chunk.strip(b"\x00"):
                raise ExtractError("unreadable", f"{self._what}: unexpected data after the {self._fmt} stream's zero padding")
        self._warn("zero_padding")
        self._done = True

    def close(self) -> None:
        self._inner.close()
        super().close()
