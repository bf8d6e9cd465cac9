"""DMARC failure reports in mail (RFC 6591 ARF / RFC 9991): find what is needed, leave the rest.

A failure report carries someone's message. This module reads the machine-readable part and only the
*headers* of the original message; the original's body and attachments are never decoded, walked or
decompressed (a zip bomb attached to it costs nothing), and nothing of them is returned.

Parts are recognised by their content, not their declared types: an ARF part is a block of fields with
``Feedback-Type``; the original is a header block (``message/rfc822``, ``text/rfc822-headers``, or a
mislabelled text part); a mail with neither but a plain-text notice that says a DMARC check failed is
read from its labelled lines (``Sender IP Address: ...``).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.utils
import hashlib
import quopri
import re
from dataclasses import dataclass, field
from email.header import Header, decode_header
from email.message import Message
from email.parser import Parser
from email.policy import compat32

from dmarcflow.errors import ParseError
from dmarcflow.kinds.arf import NOTICE_MARK, MailFacts, build_report, mail_date, read_fields
from dmarcflow.models import FailureReport

MAX_DEPTH = 8  # MIME levels walked inside a report mail (an ARF mail has two)
_HEAD = 256 << 10  # bytes of a part looked at: fields and header blocks sit at the start
_FEEDBACK = re.compile(r"(?im)^feedback-type[ \t]*:")
_SOURCE_IP = re.compile(r"(?im)^source-ip[ \t]*:")
_ARF_COMPANION = re.compile(r"(?im)^(reported-domain|auth-failure|arrival-date)[ \t]*:")
_HEADER_LINE = re.compile(r"[\x21-\x39\x3b-\x7e]+:[ \t]*\S")
_ORIGINAL_MARK = re.compile(r"(?im)^(return-path|received|from|message-id|subject|dkim-signature|authentication-results)[ \t]*:")
_HEADER_TYPES = ("text/rfc822-headers", "message/rfc822-headers")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or b > 13)  # counted in one C pass: this runs on every mail
_DMARC = re.compile(r"(?i)\bdmarc\b")
_FAIL = re.compile(r"(?i)\bfail")
_LABEL = re.compile(r"(?m)^[ \t]*([A-Za-z][A-Za-z -]{0,39}):[ \t]+([^\r\n]+)")
_NOTICE_FIELDS = {
    "Source-IP": ("sender ip address", "source ip address", "source ip", "source-ip", "sending ip address", "sender ip"),
    "Reported-Domain": ("sender domain", "reported domain", "reported-domain", "from domain"),
    "Arrival-Date": ("received date", "arrival date", "arrival-date", "date received"),
    "Delivery-Result": ("dmarc results", "dmarc result", "dmarc disposition"),
}
_NOTICE_DELIVERY = {"reject": "reject", "rejected": "reject", "quarantine": "spam", "quarantined": "spam", "none": "delivered"}


@dataclass
class _Found:
    feedback: str | None = None
    original: list[tuple[str, str]] | None = None
    body_omitted: bool = False
    notice: str | None = None
    warnings: list[str] = field(default_factory=list)


def parse_failure_mail(raw: bytes) -> FailureReport:
    """One failure report from the bytes of the mail that carries it."""
    try:
        msg = email.message_from_bytes(raw, policy=compat32)
    except RecursionError:
        raise ParseError("too_large", "the mail nests MIME parts too deeply") from None
    return parse_failure_message(msg)


def parse_failure_message(msg: Message) -> FailureReport:
    found = _walk(msg)
    facts = MailFacts(_submitter(msg), mail_date(_clean(msg.get("Date"))), found.body_omitted)
    original = found.original or []
    if found.feedback is not None:
        return build_report(read_fields(found.feedback), original, facts, found.warnings)
    if found.notice is not None:
        fields, headers, body = _notice(found.notice)
        facts = MailFacts(facts.submitter, facts.date, facts.body_omitted or body)
        return build_report(fields, found.original or headers, facts, found.warnings)
    raise ParseError("not_a_report", "no ARF feedback part (Feedback-Type) and no plain-text DMARC failure notice")


def mail_claim(msg: Message) -> str | None:
    """What the content makes this mail: "arf" (it has an ARF part), "notice" (a plain-text failure notice), or None."""
    try:
        found = _walk(msg)
    except ParseError:
        return None
    if found.feedback is not None:
        return "arf"
    return "notice" if found.notice is not None else None


def is_failure_message(msg: Message) -> bool:
    """Whether the content makes this mail a failure report (ARF part or plain-text notice)."""
    return mail_claim(msg) is not None


def identity(report: FailureReport) -> str:
    """Dedupe key: reporter + original Message-ID + arrival time, or else a hash of the ARF fields."""
    if report.message_id:
        key = "\0".join((report.reporter, report.message_id, str(int(report.arrival.timestamp()))))
        return "mid:" + hashlib.sha256(key.encode()).hexdigest()
    return "arf:" + hashlib.sha256((report.reporter + "\0" + report.feedback_fields).encode()).hexdigest()


def reparse(feedback_fields: str, original_headers: str, facts: MailFacts) -> FailureReport:
    """The report again from what the store kept (no sample): the kept fields and header block."""
    return build_report(read_fields(feedback_fields), read_fields(original_headers), facts)


def _walk(msg: Message) -> _Found:
    """Visit the report mail's parts without recursion and without entering the original message."""
    found = _Found()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError("too_large", f"the mail nests MIME parts deeper than {MAX_DEPTH} levels")
        payload = part.get_payload()
        if part.is_multipart() and part.get_content_maintype() == "multipart" and isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
        elif isinstance(payload, list):
            _message_part(part, payload, found)
        elif part is not msg or not part.is_multipart():
            _leaf(part, found)
    return found


def _message_part(part: Message, payload: list[Message | str], found: _Found) -> None:
    """A message/* part: the ARF part (message/feedback-report) or the original (message/rfc822 and others)."""
    sub = payload[0] if payload and isinstance(payload[0], Message) else None
    if sub is None:
        return
    encoding = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    if encoding in ("base64", "quoted-printable") and not sub.items():
        # Encoded against RFC 2046 (message/* parts are 7bit, 8bit or binary): the parser saw no
        # headers, only the encoded text. Decode it and read the headers from that.
        headers, body = _header_block(_decoded_body(sub, encoding, found)[:_HEAD])
    else:
        headers = [(n, _unfold(_clean(v))) for n, v in sub.items()]
        rest = sub.get_payload()
        body = bool(rest) and (not isinstance(rest, str) or bool(rest.strip()))
    if part.get_content_type() == "message/feedback-report":
        text = "".join(f"{n}: {v}\n" for n, v in headers)
        if found.feedback is None and _is_arf(text):
            found.feedback = text
    elif found.original is None:
        found.original, found.body_omitted = headers, body


def _decoded_body(sub: Message, encoding: str, found: _Found) -> str:
    carrier = Message()
    carrier["Content-Transfer-Encoding"] = encoding
    carrier.set_payload(_clean(str(sub.get_payload())))
    data = carrier.get_payload(decode=True)
    return _text(data if isinstance(data, bytes) else None, found)


def _leaf(part: Message, found: _Found) -> None:
    head, more = _head_of(part)
    if not head.strip():
        return
    text = _text(head, found) if _is_texty(head) else ""
    if not text:
        return
    starts_with_field = bool(_HEADER_LINE.match(text.lstrip("\r\n")))
    if found.feedback is None and starts_with_field and _is_arf(text):
        found.feedback = text
    elif found.original is None and starts_with_field and found.feedback is not None and (
            _ORIGINAL_MARK.search(text) or part.get_content_type() in _HEADER_TYPES):
        headers, body = _header_block(text)
        found.original = headers
        found.body_omitted = body or more
    elif found.notice is None and _DMARC.search(text) and _FAIL.search(text):
        found.notice = text


def _head_of(part: Message) -> tuple[bytes, bool]:
    """The first _HEAD decoded bytes of a part, and whether more follow.

    Only the start is decoded: this runs on every mail (is it a failure report?), whose parts may
    be megabytes of base64 attachments that only the report's own path needs to decode.
    """
    raw = part.get_payload()
    if not isinstance(raw, str):
        return b"", False
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            chunk = _NOT_BASE64.sub("", raw[: _HEAD * 2])  # line breaks take room: twice the characters
            data, more = base64.b64decode(chunk[: len(chunk) // 4 * 4]), len(raw) > _HEAD * 2
        elif encoding == "quoted-printable":
            data, more = quopri.decodestring(_clean(raw[: _HEAD * 3]).encode()), len(raw) > _HEAD * 3
        else:
            data, more = raw[: _HEAD + 1].encode("utf-8", "surrogateescape"), len(raw) > _HEAD
    except (binascii.Error, ValueError):
        return b"", False
    return data[:_HEAD], more or len(data) > _HEAD


def _is_arf(text: str) -> bool:
    """ARF fields: a Feedback-Type, or (some reporters omit it) a Source-IP with another ARF field."""
    head = text[:_HEAD]
    return bool(_FEEDBACK.search(head) or (_SOURCE_IP.search(head) and _ARF_COMPANION.search(head)))


def _is_texty(data: bytes) -> bool:
    """Binary parts (images, archives, a zip bomb) are never text: a NUL or many control bytes say so."""
    sample = data[:4096]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return b"\0" not in sample and controls * 20 < len(sample)


def _text(data: bytes | None, found: _Found) -> str:
    if not data:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        found.warnings.append("invalid_bytes_replaced")
        return data.decode("utf-8", errors="replace")


def _header_block(text: str) -> tuple[list[tuple[str, str]], bool]:
    """The header fields at the start of the text, and whether a body followed them."""
    msg = Parser(policy=compat32).parsestr(text.lstrip("\r\n"), headersonly=True)
    rest = msg.get_payload()
    return [(n, _unfold(_clean(v))) for n, v in msg.items()], isinstance(rest, str) and bool(rest.strip())


def _notice(text: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], bool]:
    """ARF-like fields from a plain-text notice's labelled lines; the original's headers if it quotes them."""
    labels: dict[str, str] = {}
    last = 0
    for match in _LABEL.finditer(text):
        name = match.group(1).strip().lower()
        for target, names in _NOTICE_FIELDS.items():
            if name in names and target not in labels:
                labels[target] = match.group(2).strip()
                last = match.end()
    if "Source-IP" not in labels:
        raise ParseError("missing_field", "a plain-text DMARC failure notice without a sender IP address "
                         "(no line such as 'Sender IP Address: 192.0.2.1')")
    fields = [(NOTICE_MARK, "plain-text-notice"), ("Feedback-Type", "auth-failure"), ("Auth-Failure", "dmarc")]
    for target in ("Source-IP", "Reported-Domain", "Arrival-Date"):
        if target in labels:
            fields.append((target, labels[target]))
    disposition = labels.get("Delivery-Result", "").split()
    if disposition and disposition[0].lower() in _NOTICE_DELIVERY:
        fields.append(("Delivery-Result", _NOTICE_DELIVERY[disposition[0].lower()]))
    mark = _ORIGINAL_MARK.search(text, last)
    if mark is None:
        return fields, [], False
    headers, body = _header_block(text[mark.start():])
    return fields, headers, body


def _submitter(msg: Message) -> str | None:
    address = email.utils.parseaddr(_clean(msg.get("From")) or "")[1].strip()
    return address or None


def _clean(value: object) -> str:
    """A header value as valid text: raw 8-bit bytes (which the parser wraps) read as UTF-8, else U+FFFD."""
    if value is None:
        return ""
    if isinstance(value, Header):
        return "".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p, _ in decode_header(value))
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()
