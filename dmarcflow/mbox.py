"""The messages of an mbox, streamed: the one mbox reader, for mbox files and mboxes found inside inputs.

A message starts after each line that begins with ``From `` (mboxo/mboxrd); mboxrd quoting
(``>From ``) is undone. Byte order marks and whitespace before the first ``From `` line are
skipped, so such a file still yields its messages. A message larger than the cap is counted
and measured but not kept in memory. The blank line before a ``From `` line (or the end) is the
separator, not part of the message.

The stream is read in large blocks and the separators found with ``bytes.find``: reading line by
line cost more than the report in a small report mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

_BLOCK = 1 << 20
_LONG_LINE = 1 << 16  # a line longer than this is passed on in pieces (and is no separator past its start)
_LEADING = b"\xef\xbb\xbf \t\r\n"
_SEPARATOR = b"\nFrom "
_QUOTED = re.compile(rb"^>(?=>*From )", re.MULTILINE)


@dataclass(frozen=True)
class MboxMessage:
    index: int  # 1-based position in the mbox
    data: bytes | None  # None when the message is larger than the cap
    size: int


class _Message:
    """One message's text as it arrives in pieces, each starting at a line start, unquoted as it comes."""

    def __init__(self, index: int, cap: int) -> None:
        self.index = index
        self.cap = cap
        self.parts: list[bytes] | None = []
        self.size = 0
        self.tail = b""  # the last bytes seen: whether the message ends in a blank line

    def add(self, piece: bytes, starts_line: bool) -> None:
        if not piece:
            return
        if starts_line:
            if piece[:1] == b">" or b"\n>" in piece:  # the common case, no quoted line, without the regex
                piece = _QUOTED.sub(b"", piece)
        else:  # the rest of a very long line: its first bytes are no line start to unquote
            first = piece.find(b"\n") + 1
            piece = piece if not first else piece[:first] + _QUOTED.sub(b"", piece[first:])
        self.size += len(piece)
        self.tail = (self.tail + piece[-3:])[-3:]
        if self.parts is not None:
            if self.size > self.cap + 2:  # two bytes of slack: the separator's blank line is dropped at the end
                self.parts = None  # too large to keep: measured only
            else:
                self.parts.append(piece)

    def done(self) -> MboxMessage:
        blank = 0
        if self.tail[-3:] == b"\n\r\n" or (self.size == 2 and self.tail == b"\r\n"):
            blank = 2
        elif self.tail[-2:] == b"\n\n" or (self.size == 1 and self.tail == b"\n"):
            blank = 1
        size = self.size - blank
        if self.parts is None or size > self.cap:
            return MboxMessage(self.index, None, size)
        data = b"".join(self.parts)
        return MboxMessage(self.index, data[: len(data) - blank], size)


class _Blocks:
    """The stream as a buffer refilled a block at a time."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.buf = b""
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        block = self.stream.read(_BLOCK)
        if not block:
            self.eof = True
            return False
        self.buf += block
        return True

    def skip_line(self, pos: int) -> int:
        """The offset after the line that starts at pos (dropping what came before, for a long line)."""
        while (end := self.buf.find(b"\n", pos)) < 0:
            self.buf, pos = b"", 0
            if not self.more():
                return 0
        return end + 1


def split_mbox(stream: IO[bytes], cap: int) -> Iterator[MboxMessage]:
    """Every message of the mbox in order, each with its bytes (or None beyond ``cap`` bytes)."""
    blocks = _Blocks(stream)
    while not blocks.buf.lstrip(_LEADING) and blocks.more():
        blocks.buf = blocks.buf.lstrip(_LEADING)  # blank lines and byte order marks before the first message
    blocks.buf = blocks.buf.lstrip(_LEADING)
    if not blocks.buf:
        return
    while len(blocks.buf) < len(_SEPARATOR) and blocks.more():
        pass
    pos = blocks.skip_line(0) if blocks.buf.startswith(b"From ") else 0  # else: the first message has no separator
    index = 1
    current = _Message(index, cap)
    mid_line = False  # the buffer starts inside a line passed on in pieces
    while True:
        found = blocks.buf.find(_SEPARATOR, max(pos - 1, 0))
        if found >= 0:
            current.add(blocks.buf[pos : found + 1], not mid_line)
            yield current.done()
            index += 1
            current, mid_line = _Message(index, cap), False
            pos = blocks.skip_line(found + 1)
            continue
        # No separator in what is buffered: pass on the complete lines, keep the last one (and the line break
        # before it, so that a separator at the start of the next block is seen).
        last = blocks.buf.rfind(b"\n", max(pos - 1, 0))
        if last >= 0:
            current.add(blocks.buf[pos : last + 1], not mid_line)
            blocks.buf, pos, mid_line = blocks.buf[last:], 1, False
        elif len(blocks.buf) - pos >= _LONG_LINE:
            current.add(blocks.buf[pos:], not mid_line)  # a very long line: passed on in pieces, never all held
            blocks.buf, pos, mid_line = b"", 0, True
        if not blocks.more():
            break
    current.add(blocks.buf[pos:], not mid_line)
    yield current.done()
