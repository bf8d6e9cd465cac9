"""Report mails: their parts (found without recursion), the sender's domain, and the quirks real senders have.

Parts are recognised by their bytes, never by their declared type. A part that is not base64 by
its headers but is base64 by its bytes, or whose headers ended up inside its body, is read
anyway with a warning (one large gateway sends exactly that).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message

from dmarcflow.errors import ExtractError
from dmarcflow.mime_scan import scan_mail

MAX_MIME_DEPTH = 32  # multipart levels in one mail; real report mails have two or three
MAX_DELIMITER_LINES = 4096  # "--" lines: a bound on the parts the mail parser would build in memory
_HEADER_NO_SPACE = re.compile(rb"^[!-9;-~]+:[^ \t\r\n]", re.MULTILINE)
_HEADER_BLOCK = re.compile(rb"\A(?:[!-9;-~]+:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*)+\r?\n")
_BASE64 = re.compile(rb"[A-Za-z0-9+/=\s]+")
# An mbox envelope line: "From sender Thu Mar  5 10:00:00 2026" (ctime, maybe with a zone): so that a mail's
# text starting "From the postmaster: ..." is not taken for a mailbox.
_ENVELOPE = re.compile(rb"\A[\xef\xbb\xbf \t\r\n]*From \S+ +\w{3} \w{3} [ \d]?\d \d\d:\d\d(?::\d\d)? ")
_MAIL_HEADER = re.compile(rb"^(?:from|received|message-id|date|subject|return-path|to):", re.IGNORECASE | re.MULTILINE)
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


@dataclass(frozen=True)
class Leaf:
    """A part of the mail that is not a container of other parts."""

    index: int
    part: Message


def parse_mail(raw: bytes) -> Message:
    if raw.count(b"\n--") > MAX_DELIMITER_LINES:
        raise ExtractError("too_large", f"the mail has more than {MAX_DELIMITER_LINES} MIME boundary lines")
    scanned = scan_mail(raw)
    if scanned is not None:
        return scanned
    try:
        return email.message_from_bytes(raw, policy=email.policy.compat32)
    except RecursionError:
        raise ExtractError("too_large", "the mail's MIME parts are nested too deeply to read") from None


def headers_named(msg: Message, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The first value of each of these headers the mail has, as (lowercase name, text)."""
    out = []
    for name in names:
        value = msg.get(name)
        if value is not None:
            text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()
            out.append((name, text[:1000]))
    return tuple(out)


def header_quirks(raw: bytes) -> tuple[str, ...]:
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if end < 0 or 0 <= crlf < end:
        end = crlf
    head = raw if end < 0 else raw[:end]
    return ("mail_header_no_space",) if _HEADER_NO_SPACE.search(head) else ()


def sender_domain(msg: Message) -> str | None:
    """The domain of the From address, when it is a plausible domain name."""
    value = msg.get("From")
    if value is None:
        return None
    _, address = email.utils.parseaddr(str(value))
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    return domain if _DOMAIN.fullmatch(domain) else None


def leaves(msg: Message, keep_whole: Callable[[Message], bool] | None = None) -> Iterator[Leaf | ExtractError]:
    """Every leaf part, depth first in document order; too-deep branches as errors.

    An attached mail (message/rfc822) for which ``keep_whole`` says so is one leaf, not walked into.
    """
    stack: list[tuple[Message, int]] = [(msg, 0)]
    index = 0
    while stack:
        part, depth = stack.pop()
        payload = part.get_payload()
        attached = attached_mail(part) if keep_whole is not None and part is not msg else None
        if attached is not None and keep_whole is not None and keep_whole(attached):
            yield Leaf(index, part)
            index += 1
        elif part.is_multipart() and isinstance(payload, list):
            if depth >= MAX_MIME_DEPTH:
                yield ExtractError("too_large", f"MIME parts nested deeper than {MAX_MIME_DEPTH} levels")
                continue
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
        else:
            yield Leaf(index, part)
            index += 1


def attached_mail(part: Message) -> Message | None:
    """The mail a message/* part holds, as the parser read it (None for any other part)."""
    payload = part.get_payload()
    if describe(part).startswith("message/") and isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return None


def label(leaf: Leaf) -> str:
    try:
        name = leaf.part.get_filename()
    except (ValueError, TypeError, LookupError):
        name = None
    return name if isinstance(name, str) and name.strip() else f"part{leaf.index}"


def describe(part: Message) -> str:
    try:
        return part.get_content_type()
    except (ValueError, TypeError, AttributeError):
        return "unknown"


def content(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, binascii.Error):
        return b""
    return payload if isinstance(payload, bytes) else b""


def is_mbox(data: bytes) -> bool:
    return _ENVELOPE.match(data) is not None


def is_message(part: Message, data: bytes) -> bool:
    """Whether a part holds a whole mail: message/rfc822, or an attached .eml whatever its declared type.

    A part that only carries Content-* headers in its body is not a mail but a part whose headers
    were misplaced (see recover).
    """
    if describe(part).startswith("message/"):
        return True
    block = _HEADER_BLOCK.match(data)
    return block is not None and _MAIL_HEADER.search(block.group(0)) is not None


def recover(part: Message, data: bytes, is_report: Callable[[bytes], bool]) -> tuple[bytes, tuple[str, ...]] | None:
    """The real content of a part whose bytes are no report as declared, when broken headers hid it."""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte != "base64":
        decoded = _undeclared_base64(data)
        if decoded is not None and is_report(decoded):
            return decoded, ("undeclared_base64_body",)
    block = _HEADER_BLOCK.match(data)
    if block is None:
        return None
    inner = email.message_from_bytes(data, policy=email.policy.compat32)
    if inner.is_multipart():
        return None
    body = content(inner)
    if is_report(body):
        return body, ("misplaced_mail_headers",)
    decoded = _undeclared_base64(body)
    if decoded is not None and is_report(decoded):
        return decoded, ("misplaced_mail_headers", "undeclared_base64_body")
    return None


def _undeclared_base64(data: bytes) -> bytes | None:
    if len(data) < 16 or not _BASE64.fullmatch(data):
        return None
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
