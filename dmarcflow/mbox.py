"""The messages of an mbox, streamed: the one mbox reader, for mbox files and mboxes found inside inputs.

A message starts after each line that begins with ``From `` (mboxo/mboxrd); mboxrd quoting
(``>From ``) is undone. Byte order marks and whitespace before the first ``From `` line are
skipped, so such a file still yields its messages. A message larger than the cap is counted
and measured but not kept in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

_LINE_MAX = 1 << 16
_LEADING = b"\xef\xbb\xbf \t\r\n"


@dataclass(frozen=True)
class MboxMessage:
    index: int  # 1-based position in the mbox
    data: bytes | None  # None when the message is larger than the cap
    size: int


class _Message:
    def __init__(self, index: int, cap: int) -> None:
        self.index = index
        self.cap = cap
        self.parts: list[bytes] | None = []
        self.size = 0
        self._blank = b""  # a blank line held back: before a From line or the end it is the separator

    def add(self, line: bytes) -> None:
        if self._blank:
            self._keep(self._blank)
            self._blank = b""
        if line in (b"\n", b"\r\n"):
            self._blank = line
        else:
            self._keep(line)

    def _keep(self, line: bytes) -> None:
        self.size += len(line)
        if self.parts is not None:
            if self.size > self.cap:
                self.parts = None  # too large to keep: measured only
            else:
                self.parts.append(line)

    def done(self) -> MboxMessage:
        data = None if self.parts is None else b"".join(self.parts)
        return MboxMessage(self.index, data, self.size)


def split_mbox(stream: IO[bytes], cap: int) -> Iterator[MboxMessage]:
    """Every message of the mbox in order, each with its bytes (or None beyond ``cap`` bytes)."""
    current: _Message | None = None
    index = 0
    line_start = True
    while line := stream.readline(_LINE_MAX):
        starts_line, line_start = line_start, line.endswith(b"\n")
        if current is None and starts_line:
            rest = line.lstrip(_LEADING)
            if not rest:
                continue  # blank lines and byte order marks before the first message
            line = rest
        if starts_line and line.startswith(b"From "):
            if current is not None:
                yield current.done()
            index += 1
            current = _Message(index, cap)
            if not line_start:
                _skip_rest_of_line(stream)
                line_start = True
            continue
        if current is None:  # content before any From line: the first message has no separator
            index += 1
            current = _Message(index, cap)
        if starts_line and line[:1] == b">" and line.lstrip(b">").startswith(b"From "):
            line = line[1:]
        current.add(line)
    if current is not None:
        yield current.done()


def _skip_rest_of_line(stream: IO[bytes]) -> None:
    while chunk := stream.readline(_LINE_MAX):
        if chunk.endswith(b"\n"):
            return
