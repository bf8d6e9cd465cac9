"""Builders for the hostile corpus: mails, mboxes and documents shaped the way attackers and odd reporters send them."""

from __future__ import annotations

import gzip
import io
import zipfile
from email.message import EmailMessage

from tests.support.report_xml import record, report

SENDER = "noreply-dmarc@receiver.example"


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def mail(attachments: list[tuple[str, str, bytes]], *, body: str = "DMARC report attached", html: str | None = None,
         sender: str = SENDER) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "dmarc@example.com"
    msg["Subject"] = "Report Domain: example.com"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for number, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_dmarcflow_test_{number}")  # fixed: the same input every run
    return msg.as_bytes()


def nested_mime(levels: int, leaf: bytes = b"Content-Type: text/plain\r\n\r\nhello\r\n") -> bytes:
    body = leaf
    for i in range(levels):
        b = b"b%d" % i
        body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n" + body
                + b"\r\n--" + b + b"--\r\n")
    return b"From: " + SENDER.encode() + b"\r\nSubject: nested\r\nMIME-Version: 1.0\r\n" + body


def xml_leaf(xml: bytes) -> bytes:
    return b"Content-Type: text/xml\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + xml + b"\r\n"


def mbox(messages: list[bytes], prefix: bytes = b"") -> bytes:
    out = prefix
    for i, raw in enumerate(messages):
        quoted = b"\n".join(b">" + line if line.startswith(b"From ") else line for line in raw.split(b"\n"))
        out += b"From MAILER-DAEMON Thu Mar  5 10:00:0%d 2026\n" % i + quoted + b"\n\n"
    return out


def encoded(xml: bytes, encoding: str, declared: str | None = None, bom: bool = True) -> bytes:
    """The report re-encoded (and re-declared) in another encoding."""
    text = xml.decode().replace('encoding="UTF-8"', f'encoding="{declared or encoding}"')
    data = text.encode(encoding)
    if not bom and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = data[2:]
    return data


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


__all__ = ["encoded", "gzipped", "mail", "mbox", "nested_mime", "record", "report", "xml_leaf", "zip_of"]
