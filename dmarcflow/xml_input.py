"""The bytes of an XML payload as the parser should get them, with real reporters' byte-level quirks handled.

- Whitespace or byte order marks before the XML declaration are skipped (``leading_whitespace``).
- A document in another encoding than UTF-8 (declared, or signalled by a byte order mark, UTF-16
  with or without one) is left to the parser to decode (``non_utf8_encoding``).
- In a UTF-8 document, bytes that are not UTF-8 inside a text node become U+FFFD
  (``invalid_bytes_replaced``). Inside markup they are left alone, so that the parser refuses the
  document: a broken tag is never "repaired" into another element.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from typing import Protocol

from dmarcflow.errors import ParseError

CHUNK = 1 << 16
_LEAD = b"\xef\xbb\xbf \t\r\n"
_HEAD_MIN = 256  # bytes past the leading whitespace needed to read the declaration
_DECLARED = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_UTF8 = {"utf-8", "utf8"}
_ASCII = {"us-ascii", "ascii"}
_REPLACEMENT = "\ufffd".encode()


class Readable(Protocol):
    """What the parser reads from: a binary stream, or a reader that tees it (the raw copy)."""

    def read(self, size: int = -1, /) -> bytes: ...


def xml_chunks(stream: Readable, warn: Callable[[str], None]) -> Iterator[bytes]:
    """The document in chunks for the parser; ParseError("empty") when there is nothing but whitespace."""
    head = _head(stream)
    if not head.lstrip(_LEAD):
        raise ParseError("empty", "the payload is empty")
    head, utf8 = _prolog(head, warn)
    if not utf8:
        yield head
        while chunk := stream.read(CHUNK):
            yield chunk
        return
    repair = _Utf8Repair(warn)
    yield repair.feed(head)
    while chunk := stream.read(CHUNK):
        yield repair.feed(chunk)
    yield repair.finish()


def _head(stream: Readable) -> bytes:
    head = stream.read(CHUNK)
    while head and len(head.lstrip(_LEAD)) < _HEAD_MIN:
        more = stream.read(CHUNK)
        if not more:
            break
        if not head.lstrip(_LEAD):
            head = head[-3:]  # only whitespace so far: keep just enough for a split byte order mark
        head += more
    return head


def _prolog(head: bytes, warn: Callable[[str], None]) -> tuple[bytes, bool]:
    """The head with leading junk removed, and whether the document is UTF-8."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (head[1:2] == b"\x00") != (head[:1] == b"\x00"):
        warn("non_utf8_encoding")  # UTF-16, with or without a byte order mark: the parser decodes it
        return head, False
    stripped = head.lstrip(_LEAD)
    if stripped.startswith(b"<?xml") and len(stripped) != len(head) and head != b"\xef\xbb\xbf" + stripped:
        warn("leading_whitespace")
        head = stripped
    declared = _DECLARED.match(stripped)
    encoding = declared.group(1).decode().lower() if declared else "utf-8"
    if encoding in _UTF8:
        return head, True
    if encoding not in _ASCII:
        warn("non_utf8_encoding")
    return head, False


class _Utf8Repair:
    """Passes valid UTF-8 through untouched; replaces invalid bytes that sit in text."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._carry = b""
        self._previous = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._carry + chunk if self._carry else chunk
        try:
            _, used = codecs.utf_8_decode(data, "strict", False)
        except UnicodeDecodeError:
            return self._repair(data)
        self._carry = data[used:]
        out = data[:used] if self._carry else data
        self._previous = out
        return out

    def finish(self) -> bytes:
        rest, self._carry = self._carry, b""
        if rest and self._in_text(b""):
            self._warn("invalid_bytes_replaced")
            return _REPLACEMENT
        return rest

    def _repair(self, data: bytes) -> bytes:
        out = bytearray()
        pos = 0
        while True:
            try:
                _, used = codecs.utf_8_decode(data[pos:], "strict", False)
            except UnicodeDecodeError as exc:
                start, end = pos + exc.start, pos + exc.end
                out += data[pos:start]
                if self._in_text(out):
                    out += _REPLACEMENT
                    self._warn("invalid_bytes_replaced")
                else:
                    out += data[start:end]  # inside markup: the parser will refuse the document
                pos = end
                continue
            out += data[pos : pos + used]
            self._carry = data[pos + used :]
            break
        self._previous = bytes(out)
        return self._previous

    def _in_text(self, before: bytes | bytearray) -> bool:
        """Whether the bytes just before this point end in character data rather than inside a tag."""
        for text in (before, self._previous):
            lt, gt = text.rfind(b"<"), text.rfind(b">")
            if gt > lt:
                return True
            if lt >= 0:
                return text[lt + 1 : lt + 2] == b"!"  # a comment or CDATA section: character data too
        return True  # a long run without markup: only text runs that long
