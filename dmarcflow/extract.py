"""An input's bytes -> the report payloads in it, recognised by their bytes, within the input's budget.

A payload is a named opener of one document with the report kind its content says it is: the
registry (``kinds.registry``) maps content shapes to kinds (an XML document: aggregate, a JSON
object: SMTP TLS), and a kind may take a whole mail (a DMARC failure report is a mail).
Openers can be called more than once (the ingest may read a report twice); every decompressing
stream is bounded and charged to the input's budget, so bombs stop with ``too_large``.

Walking never raises: a part that cannot be read becomes a ``Rejection`` and the walk goes on
with the next part; a part that is not a report (a mail's text, a picture, a readme in a zip)
becomes a ``Skipped`` note.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING

from dmarcflow.budget import InputBudget, bounded
from dmarcflow.errors import ExtractError, InputError, Warnings
from dmarcflow.inflate import GZIP, ZLIB, InflateStream
from dmarcflow.inputs import Source
from dmarcflow.kinds.base import FALLBACK, Opener, Payload
from dmarcflow.kinds.registry import MAIL_HEADERS, SHAPES, mail_claim
from dmarcflow.mbox import split_mbox

# ``mime`` (the email package) and ``archive`` (zipfile) are imported by the walker's methods that read a mail
# or a zip: a plain or gzipped report is most of what arrives, and a short ingest should not pay for them.
if TYPE_CHECKING:
    import zipfile
    from email.message import Message

    from dmarcflow import archive, mime

log = logging.getLogger(__name__)

_PEEK = 512
_PEEK_MAX = 1 << 16  # how far leading whitespace is skipped to find the content
_LEAD = b"\xef\xbb\xbf \t\r\n"
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9-]*:")
_OTHER_COMPRESSION = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"Rar!": "rar",
}
_CONTENT_KINDS = tuple(SHAPES) + ("gzip", "zlib", "zip")


@dataclass(frozen=True)
class Rejection:
    """A part of the input that could not be read."""

    name: str
    error: InputError


@dataclass(frozen=True)
class Skipped:
    """A part that is not a report: noted in the outcome, not an error."""

    name: str
    reason: str  # not_a_report | empty
    message: str


Item = Payload | Rejection | Skipped


@dataclass(frozen=True)
class _Trail:
    """What the layers above a part hand down to it."""

    depth: int = 0
    warnings: tuple[str, ...] = ()
    sender: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # the carrying mail's headers the kinds read

    def down(self, *warnings: str, sender: str | None = None, headers: tuple[tuple[str, str], ...] = ()) -> _Trail:
        merged = self.warnings + tuple(w for w in warnings if w not in self.warnings)
        return _Trail(self.depth + 1, merged, sender or self.sender, headers or self.headers)


def detect(head: bytes) -> str:
    """Kind of content from its first bytes: xml, json, html, gzip, zlib, zip, email, mbox, empty, unknown or a compression."""
    stripped = head.lstrip(_LEAD)
    if not stripped:
        return "empty"
    compression = _compression(head)
    if compression is not None:
        return compression
    text = _as_text(head)
    if text.startswith("<"):
        low = text[:16].lower()
        return "html" if low.startswith(("<!doctype html", "<html")) else "xml"
    if text.startswith("{"):
        return "json"
    if stripped.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE.match(stripped):
        return "email"
    return "unknown"


def _compression(head: bytes) -> str | None:
    """The compression or archive format the first bytes announce, if any."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    for magic, name in _OTHER_COMPRESSION.items():
        if head.startswith(magic):
            return name
    return "zlib" if _is_zlib(head) else None


def _is_zlib(head: bytes) -> bool:
    """A zlib header: deflate, a window of at most 32 KiB, no preset dictionary, a valid check."""
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and not flg & 0x20 and (cmf << 8 | flg) % 31 == 0


def _as_text(head: bytes) -> str:
    """The first characters, whatever the Unicode encoding form, without leading whitespace."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16"
    elif head[1:2] == b"\x00" and head[:1] != b"\x00":
        codec = "utf-16-le"
    elif head[:1] == b"\x00" and head[1:2] != b"\x00":
        codec = "utf-16-be"
    else:
        return head.lstrip(_LEAD).decode("latin-1")
    return head[: len(head) & ~1].decode(codec, "replace").lstrip("\ufeff \t\r\n")


def kind_of(source: Source) -> str:
    """What the input is, from its first bytes."""
    return detect(_peek(lambda _: source.open()))


def walk(name: str, source: Source, budget: InputBudget) -> Generator[Item, None, None]:
    """Every payload, rejection and skipped part of one input, in order (close it when done early)."""
    return _Walker(budget).node(name, lambda _: source.open(), source.size, _Trail(), seekable=True)


class _Walker:
    def __init__(self, budget: InputBudget) -> None:
        self.budget = budget
        self.limits = budget.limits

    def node(self, name: str, opener: Opener, size: int, trail: _Trail, seekable: bool) -> Generator[Item, None, None]:
        """One layer: recognise it, then unpack it; whatever fails becomes its rejection."""
        try:
            self.budget.check_depth(trail.depth)
            kind = detect(_peek(opener))
            yield from self._dispatch(kind, name, opener, size, trail, seekable)
        except InputError as exc:
            yield Rejection(name, exc)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one part's bug must not hide the other parts
            yield Rejection(name, internal_error(exc, name))

    def _dispatch(self, kind: str, name: str, opener: Opener, size: int, trail: _Trail, seekable: bool) -> Iterator[Item]:
        if kind in SHAPES:
            self.budget.take_parse()
            yield Payload(name, SHAPES[kind], opener, trail.warnings, trail.sender, trail.headers)
        elif kind in (GZIP, ZLIB):
            yield from self._inflate(kind, name, opener, size, trail)
        elif kind == "zip":
            yield from self._zip(name, opener, trail, seekable)
        elif kind == "email":
            sink = Warnings()  # a compressed mail's quirks (zero padding) are known once it is read
            raw = _read_capped(opener, self.limits.max_message_bytes, name, sink)
            yield from self._email(name, raw, replace(trail, warnings=trail.warnings + sink.codes()))
        elif kind == "mbox":
            yield from self._mbox(name, opener, trail)
        elif kind == "empty":
            yield Skipped(name, "empty", "the input is empty")
        elif kind == "html":
            yield Skipped(name, "not_a_report", "an HTML document, not a report")
        elif kind == "unknown":
            yield Skipped(name, "not_a_report", "not XML, JSON, gzip, zip or an email (unrecognised content)")
        else:
            yield Rejection(name, ExtractError("unsupported_compression", f"{kind} compression is not supported"))

    def _inflate(self, fmt: str, name: str, opener: Opener, size: int, trail: _Trail) -> Iterator[Item]:
        limit = self.budget.stream_limit(size)
        meter = self.budget.meter()
        inner = name + ("|gunzip" if fmt == GZIP else "|inflate")

        def open_inner(sink: Warnings) -> IO[bytes]:
            return bounded(InflateStream(opener(sink), fmt, name, sink.add), limit, name, meter)

        quirks = ("bare_zlib",) if fmt == ZLIB else ()
        yield from self.node(inner, open_inner, limit, trail.down(*quirks), seekable=False)

    def _zip(self, name: str, opener: Opener, trail: _Trail, seekable: bool) -> Iterator[Item]:
        from dmarcflow import archive

        sink = Warnings()
        stream = opener(sink) if seekable else _spooled(opener, sink)
        try:
            zf = archive.open_zip(stream, self.limits.max_members)
            with zf:
                self.budget.take_members(len(zf.infolist()))
                files = list(archive.members(zf))
                if not files:
                    yield Skipped(name, "empty", "the zip archive has no files")
                for member in files:
                    yield from self._member(name, zf, member, trail.down(*sink.codes()))
        finally:
            stream.close()

    def _member(self, name: str, zf: zipfile.ZipFile, member: archive.Member, trail: _Trail) -> Iterator[Item]:
        from dmarcflow import archive

        member_name = f"{name}!{member.label}"
        limit = self.budget.stream_limit(max(member.info.compress_size, 1))
        refused = archive.refusal(member, limit)
        if refused is not None:
            yield Rejection(member_name, refused)
            return
        meter = self.budget.meter()

        def open_member(_: Warnings) -> IO[bytes]:
            return bounded(archive.open_member(zf, member, member_name), limit, member_name, meter)

        quirks = ("unnamed_zip_member",) if member.unnamed else ()
        yield from self.node(member_name, open_member, limit, replace(trail, warnings=trail.warnings + quirks), seekable=False)

    def _email(self, name: str, raw: bytes, trail: _Trail) -> Iterator[Item]:
        from dmarcflow import mime

        quirks = mime.header_quirks(raw)
        msg = mime.parse_mail(raw)
        sender = mime.sender_domain(msg)
        below = trail.down(*quirks, sender=sender, headers=mime.headers_named(msg, MAIL_HEADERS))
        claim = mail_claim(msg)
        if claim is not None and claim[1] != FALLBACK:
            # The mail itself is the report (a failure report): its parts, the reported message among
            # them, are not walked: nothing in that message is ever decoded or decompressed.
            self.budget.take_parse()
            yield Payload(name, claim[0], _bytes_opener(raw), below.warnings, sender, below.headers)
            return
        found = list(mime.leaves(msg, keep_whole=_is_whole_report))
        self.budget.take_members(len(found))
        reports = 0
        for leaf in found:
            if isinstance(leaf, ExtractError):
                yield Rejection(name, leaf)
                continue
            part_name = f"{name}#{mime.label(leaf)}"
            attached = mime.attached_mail(leaf.part)
            parts = self._attached_report(part_name, attached, below) if attached is not None else \
                self._part(part_name, leaf, below)
            for item in parts:
                reports += isinstance(item, Payload)
                yield item
        if claim is not None and not reports:
            self.budget.take_parse()  # a plain-text failure notice, and nothing else in the mail is a report
            yield Payload(name, claim[0], _bytes_opener(raw), below.warnings, sender, below.headers)

    def _attached_report(self, name: str, attached: Message, trail: _Trail) -> Iterator[Item]:
        """A forwarded mail that is itself a report (a failure report): as a whole, its parts unread."""
        from dmarcflow import mime

        claim = mail_claim(attached)
        assert claim is not None
        try:
            raw = attached.as_bytes()
        except Exception as exc:  # noqa: BLE001 - the parser read it but cannot write it back: that mail's rejection
            yield Rejection(name, ExtractError("unreadable", f"the attached mail cannot be read: {type(exc).__name__}"))
            return
        self.budget.take_parse()
        yield Payload(name, claim[0], _bytes_opener(raw), trail.warnings, mime.sender_domain(attached), trail.headers)

    def _part(self, part_name: str, leaf: mime.Leaf, trail: _Trail) -> Iterator[Item]:
        try:
            yield from self._leaf(part_name, leaf, trail)
        except InputError as exc:
            yield Rejection(part_name, exc)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a poison part must not lose the good parts after it
            yield Rejection(part_name, internal_error(exc, part_name))

    def _leaf(self, name: str, leaf: mime.Leaf, trail: _Trail) -> Iterator[Item]:
        from dmarcflow import mime

        data = mime.content(leaf.part)
        if not data.strip():
            yield Skipped(name, "empty", f"an empty {mime.describe(leaf.part)} part")
            return
        kind = detect(data[:_PEEK_MAX])
        if (kind == "email" and mime.is_message(leaf.part, data)) or (kind == "mbox" and mime.is_mbox(data)):
            yield from self.node(name, _bytes_opener(data), len(data), trail, seekable=True)  # a forwarded mail, a mailbox
            return
        if kind in ("unknown", "email"):
            found = mime.recover(leaf.part, data, lambda b: detect(b[:_PEEK_MAX]) in _CONTENT_KINDS)
            if found is not None:
                data, quirks = found
                trail = replace(trail, warnings=trail.warnings + quirks)
                kind = detect(data[:_PEEK_MAX])
        if kind in ("unknown", "email", "mbox", "html", "empty"):
            yield Skipped(name, "not_a_report", f"a {mime.describe(leaf.part)} part, not a report")
            return
        yield from self.node(name, _bytes_opener(data), len(data), trail, seekable=True)

    def _mbox(self, name: str, opener: Opener, trail: _Trail) -> Iterator[Item]:
        with opener(Warnings()) as stream:
            for message in split_mbox(stream, self.limits.max_message_bytes):
                self.budget.take_members(1)
                message_name = f"{name}:{message.index}"
                if message.data is None:
                    yield Rejection(message_name, too_large_message(message.size, self.limits.max_message_bytes))
                    continue
                yield from self.node(message_name, _bytes_opener(message.data), message.size, trail.down(), seekable=True)


def _is_whole_report(mail: Message) -> bool:
    claim = mail_claim(mail)
    return claim is not None and claim[1] != FALLBACK


def _bytes_opener(data: bytes) -> Opener:
    return lambda _: io.BytesIO(data)


def too_large_message(size: int, limit: int) -> ExtractError:
    return ExtractError("too_large", f"the message has {size} bytes, more than limits.max_message_bytes ({limit})")


def internal_error(exc: BaseException, name: str) -> InputError:
    """An unexpected exception as the input's rejection; the traceback goes to the debug log."""
    log.debug("internal error while reading %s", name, exc_info=exc)
    return InputError("internal_error", f"internal error while reading the input: {type(exc).__name__}: {str(exc)[:200]}")


def _peek(opener: Opener) -> bytes:
    """The first bytes, and as many more as it takes to get past leading whitespace."""
    with opener(Warnings()) as stream:
        head = stream.read(_PEEK)
        while len(head) < _PEEK_MAX and len(head.lstrip(_LEAD)) < 16:
            more = stream.read(_PEEK)
            if not more:
                break
            head += more
    return head


def _read_capped(opener: Opener, cap: int, name: str, sink: Warnings) -> bytes:
    with opener(sink) as stream:
        data = stream.read(cap + 1)
    if len(data) > cap:
        raise ExtractError("too_large", f"{name} is larger than {cap} bytes")
    return data


def _spooled(opener: Opener, sink: Warnings) -> IO[bytes]:
    """A decompressed archive as a seekable file (zipfile needs one), on disk beyond 1 MiB."""
    spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)
    try:
        with opener(sink) as stream:
            shutil.copyfileobj(stream, spool, 1 << 16)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
