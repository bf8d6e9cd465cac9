"""Bytes, files and emails -> report payloads, by magic bytes, with limits.

A payload is a named opener of an XML byte stream. Openers can be called more
than once (the ingest may read a report twice), and every decompressing
stream is bounded so that bombs stop with ``too_large`` instead of eating
memory or disk.
"""

from __future__ import annotations

import email
import email.policy
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import IO

from dmarcflow.config import Limits
from dmarcflow.errors import ExtractError

Opener = Callable[[], IO[bytes]]

_PEEK = 512
_RATIO_FLOOR = 1 << 20  # below 1 MiB of output the ratio check would only flag tiny inputs
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9-]*:[ \t]")
_OTHER_COMPRESSION = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!": "rar",
}


@dataclass(frozen=True)
class Payload:
    """One XML document that should be an aggregate report."""

    name: str
    open: Opener


@dataclass(frozen=True)
class Rejection:
    """A part of the input that could not yield a payload."""

    name: str
    error: ExtractError


Item = Payload | Rejection


def detect(head: bytes) -> str:
    """Kind of content from its first bytes: xml, gzip, zip, email, mbox, empty, or a compression name."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        return "empty"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    for magic, name in _OTHER_COMPRESSION.items():
        if head.startswith(magic):
            return name
    if stripped.startswith(b"<"):
        return "xml"
    if stripped.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE.match(stripped):
        return "email"
    return "unknown"


class BoundedReader(io.RawIOBase):
    """Caps the bytes a decompressing stream may produce."""

    def __init__(self, inner: IO[bytes], limit: int, what: str) -> None:
        self._inner = inner
        self._limit = limit
        self._what = what
        self._seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise ExtractError("unreadable", f"{self._what}: cannot decompress: {exc}") from None
        self._seen += len(data)
        if self._seen > self._limit:
            raise ExtractError("too_large", f"{self._what} decompresses to more than {self._limit} bytes")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _limit_for(limits: Limits, compressed_size: int) -> int:
    by_ratio = max(compressed_size * limits.max_ratio, _RATIO_FLOOR)
    return min(limits.max_total_bytes, by_ratio)


def _peek(opener: Opener) -> bytes:
    with opener() as stream:
        return stream.read(_PEEK)


def payloads_from_bytes(name: str, data: bytes, limits: Limits) -> Iterator[Item]:
    return _walk(name, lambda: io.BytesIO(data), len(data), limits, 0, data)


def payloads_from_file(path: str, limits: Limits) -> Iterator[Item]:
    import os

    size = os.path.getsize(path)
    return _walk(path, lambda: open(path, "rb"), size, limits, 0, None, path)


def _walk(
    name: str,
    opener: Opener,
    size: int,
    limits: Limits,
    depth: int,
    data: bytes | None,
    path: str | None = None,
) -> Iterator[Item]:
    if depth > limits.max_depth:
        yield Rejection(name, ExtractError("too_large", f"nested deeper than {limits.max_depth} levels"))
        return
    try:
        kind = detect(data[:_PEEK] if data is not None else _peek(opener))
    except ExtractError as exc:
        yield Rejection(name, exc)
        return
    yield from _dispatch(kind, name, opener, size, limits, depth, data, path)


def _dispatch(kind, name, opener, size, limits, depth, data, path) -> Iterator[Item]:
    if kind == "xml":
        yield Payload(name, opener)
    elif kind == "gzip":
        yield from _gunzip(name, opener, size, limits, depth)
    elif kind == "zip":
        yield from _unzip(name, opener, size, limits, depth, data, path)
    elif kind == "email":
        yield from _email_items(name, _read_all(opener, limits, name), limits, depth)
    elif kind == "mbox":
        yield from _mbox_items(name, _read_all(opener, limits, name), limits, depth)
    elif kind == "empty":
        yield Rejection(name, ExtractError("empty", "the input is empty"))
    elif kind == "unknown":
        yield Rejection(name, ExtractError("not_a_report", "not XML, gzip, zip or an email (unrecognised content)"))
    else:
        yield Rejection(name, ExtractError("unsupported_compression", f"{kind} compression is not supported"))


def _read_all(opener: Opener, limits: Limits, name: str) -> bytes:
    with opener() as stream:
        data = stream.read(limits.max_message_bytes + 1)
    if len(data) > limits.max_message_bytes:
        _raise_too_large(name, limits.max_message_bytes)
    return data


def _raise_too_large(name: str, limit: int) -> None:
    raise ExtractError("too_large", f"{name} is larger than {limit} bytes")


def _gunzip(name: str, opener: Opener, size: int, limits: Limits, depth: int) -> Iterator[Item]:
    limit = _limit_for(limits, size)

    def open_inner() -> IO[bytes]:
        raw = gzip.GzipFile(fileobj=opener(), mode="rb")
        return io.BufferedReader(BoundedReader(raw, limit, name), buffer_size=1 << 16)

    yield from _walk_inner(name + "|gunzip", open_inner, limit, limits, depth)


def _walk_inner(name: str, opener: Opener, limit: int, limits: Limits, depth: int) -> Iterator[Item]:
    """Walk decompressed content; a zip inside must be materialised to be seekable."""
    try:
        kind = detect(_peek(opener))
    except ExtractError as exc:
        yield Rejection(name, exc)
        return
    if kind in ("zip", "email", "mbox"):
        try:
            with opener() as stream:
                data = stream.read()
        except ExtractError as exc:
            yield Rejection(name, exc)
            return
        yield from _walk(name, lambda: io.BytesIO(data), len(data), limits, depth + 1, data)
        return
    if depth + 1 > limits.max_depth:
        yield Rejection(name, ExtractError("too_large", f"nested deeper than {limits.max_depth} levels"))
        return
    yield from _dispatch(kind, name, opener, limit, limits, depth + 1, None, None)


def _unzip(name, opener, size, limits, depth, data, path) -> Iterator[Item]:
    def open_zip() -> zipfile.ZipFile:
        return zipfile.ZipFile(path if path else io.BytesIO(data))

    try:
        with open_zip() as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        yield Rejection(name, ExtractError("unreadable", f"broken zip archive: {exc}"))
        return
    if not members:
        yield Rejection(name, ExtractError("empty", "the zip archive has no files"))
        return
    if len(members) > limits.max_members:
        yield Rejection(name, ExtractError("too_large", f"the zip archive has {len(members)} members, more than {limits.max_members}"))
        return
    for member in members:
        yield from _zip_member(name, member, open_zip, size, limits, depth)


def _zip_member(name, member: zipfile.ZipInfo, open_zip, size, limits, depth) -> Iterator[Item]:
    member_name = f"{name}!{member.filename}"
    if member.flag_bits & 0x1:
        yield Rejection(member_name, ExtractError("encrypted_archive", "the zip member is password-protected"))
        return
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        yield Rejection(member_name, ExtractError("unsupported_compression", f"zip compression method {member.compress_type} is not supported"))
        return
    limit = _limit_for(limits, max(member.compress_size, 1))
    if member.file_size > limit:
        yield Rejection(member_name, ExtractError("too_large", f"the zip member declares {member.file_size} bytes, more than the limit {limit}"))
        return

    def open_member() -> IO[bytes]:
        zf = open_zip()
        return io.BufferedReader(BoundedReader(_ZipStream(zf, member), limit, member_name), buffer_size=1 << 16)

    yield from _walk_inner(member_name, open_member, limit, limits, depth)


class _ZipStream(io.RawIOBase):
    """A member stream that also closes its archive."""

    def __init__(self, zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
        self._zf = zf
        self._inner = zf.open(member)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def close(self) -> None:
        self._inner.close()
        self._zf.close()
        super().close()


def _email_items(name: str, raw: bytes, limits: Limits, depth: int) -> Iterator[Item]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = False
    for index, part in enumerate(_leaf_parts(msg)):
        content = _decoded(part)
        if not content:
            continue
        kind = detect(content[:_PEEK])
        if kind in ("unknown", "empty", "email", "mbox"):
            continue  # message text, signatures, images: not reports
        found = True
        label = part.get_filename() or f"part{index}"
        yield from _walk(f"{name}#{label}", lambda c=content: io.BytesIO(c), len(content), limits, depth + 1, content)
    if not found:
        yield Rejection(name, ExtractError("not_a_report", "the email has no report attachment"))


def _leaf_parts(msg: Message) -> Iterator[Message]:
    for part in msg.walk():
        if not part.is_multipart() and part.get_content_maintype() != "message":
            yield part


def _decoded(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError):
        return b""
    return payload if isinstance(payload, bytes) else b""


def _mbox_items(name: str, raw: bytes, limits: Limits, depth: int) -> Iterator[Item]:
    for index, message in enumerate(split_mbox(raw), start=1):
        yield from _email_items(f"{name}:{index}", message, limits, depth)


def split_mbox(raw: bytes) -> list[bytes]:
    """Messages of an mbox (mboxrd/mboxo ">From " quoting is undone)."""
    chunks = re.split(rb"(?m)^From [^\n]*\n", raw)
    messages = []
    for chunk in chunks:
        if chunk.strip():
            messages.append(re.sub(rb"(?m)^>(>*From )", rb"\1", chunk))
    return messages
