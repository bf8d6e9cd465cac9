"""A report mail read by scanning for its boundaries: the same Message tree the email package builds, much cheaper.

The email package's feed parser reads a mail line by line in Python, which costs more than the
report inside a small report mail. Most report mails have one plain shape: well-formed header
lines, multipart bodies with their boundary lines in order, leaves that are not themselves mails.
For exactly that shape this reader finds the parts with ``str.find`` and builds the tree the feed
parser would (headers parsed by the same policy, payloads the same strings, the same preamble and
epilogue). Anything else, every shape where the feed parser would note a defect or read a nested
mail, is declined (``None``) and left to the email package, so hostile mails keep the outcomes the
email package gives them. The differential tests compare both readers on every sample and hostile
shape.
"""

from __future__ import annotations

import re
from email.message import Message
from email.policy import compat32

MAX_SCAN_DEPTH = 8  # deeper mails are rare and go to the email package (which bounds its own depth)
_HEADER = re.compile(r"[\041-\071\073-\176]+:")
_BOUNDARY_END = re.compile(r"(?P<end>--)?[ \t]*(?P<linesep>\r\n|\n)?\Z")


class _Declined(Exception):
    """The mail is not of the plain shape: the email package reads it."""


def scan_mail(raw: bytes) -> Message | None:
    """The mail's Message tree as ``email.message_from_bytes(raw, policy=compat32)`` builds it, or None."""
    text = raw.decode("ascii", "surrogateescape")
    if text.count("\r") != text.count("\r\n"):
        return None  # a lone CR ends a line for the feed parser: not the plain shape
    try:
        return _entity(text, 0, len(text), 0, ())
    except _Declined:
        return None


def _entity(text: str, start: int, end: int, depth: int, outer: tuple[str, ...]) -> Message:
    if depth > MAX_SCAN_DEPTH:
        raise _Declined
    msg = Message(policy=compat32)
    body = _headers(msg, text, start, end)
    maintype = msg.get_content_maintype()
    if maintype == "message" or msg.get_content_type() == "multipart/digest":
        raise _Declined  # a nested mail (or a digest of them): the email package's own reading
    if maintype != "multipart":
        msg.set_payload(text[body:end])
        return msg
    boundary = msg.get_boundary()
    if boundary is None or boundary in outer or str(msg.get("content-transfer-encoding", "8bit")).lower() not in (
            "7bit", "8bit", "binary"):
        raise _Declined
    _multipart(msg, text, body, end, depth, (*outer, boundary))
    return msg


def _headers(msg: Message, text: str, pos: int, end: int) -> int:
    """Set the header fields from pos on; the offset where the body starts."""
    lines: list[str] = []
    while pos < end:
        stop = text.find("\n", pos, end)
        stop = end if stop < 0 else stop + 1
        line = text[pos:stop]
        if line in ("\n", "\r\n"):
            _set(msg, lines)
            return stop
        if line[0] in " \t" and lines:
            lines.append(line)
        elif _HEADER.match(line) and not line.startswith("From "):
            _set(msg, lines)
            lines = [line]
        else:
            raise _Declined  # a header section the feed parser would call defective
        pos = stop
    raise _Declined  # no blank line after the headers


def _set(msg: Message, lines: list[str]) -> None:
    if lines:
        msg.set_raw(*compat32.header_source_parse(lines))


def _multipart(msg: Message, text: str, body: int, end: int, depth: int, boundaries: tuple[str, ...]) -> None:
    marks = _boundary_lines(text, body, end, "--" + boundaries[-1])
    if not marks or marks[0][2]:
        raise _Declined  # no opening boundary line (or only a closing one)
    if marks[0][0] > body:
        msg.preamble = _strip_eol(text[body:marks[0][0]])
    closed = False
    for (_, after, is_close), following in zip(marks, [*marks[1:], None], strict=True):
        if is_close:
            closed = True
            msg.epilogue = text[after:end]
            break
        if following is None or following[0] == after:
            raise _Declined  # no closing boundary line, or two boundary lines in a row
        part = _entity(text, after, following[0], depth + 1, boundaries)
        _trim(part)
        msg.attach(part)
    if not closed:
        raise _Declined


def _boundary_lines(text: str, body: int, end: int, separator: str) -> list[tuple[int, int, bool]]:
    """(line start, line end, is the closing one) of each boundary line between body and end."""
    marks = []
    pos = body
    while True:
        if text.startswith(separator, pos, end):
            stop = text.find("\n", pos, end)
            stop = end if stop < 0 else stop + 1
            match = _BOUNDARY_END.match(text, pos + len(separator), stop)
            if match is not None:
                marks.append((pos, stop, match.group("end") is not None))
        found = text.find("\n" + separator, pos, end)
        if found < 0:
            return marks
        pos = found + 1


def _trim(part: Message) -> None:
    """The line break before a boundary line belongs to the boundary (RFC 2046), as the feed parser has it."""
    if part.is_multipart():
        epilogue = part.epilogue
        part.epilogue = None if not epilogue else _strip_eol(epilogue)
    else:
        payload = part.get_payload()
        if isinstance(payload, str):
            part.set_payload(_strip_eol(payload))


def _strip_eol(value: str) -> str:
    return value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
