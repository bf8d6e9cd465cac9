"""The worst input shapes for memory and budgets, written as files (streamed: any size, flat memory).

Each shape targets one way an input could escape the per-input budgets or the parser's bounded
memory: many distinct source IPs or auth results in one report, floods of elements that are not
records (plain and gzip), archives whose members multiply (nested or overlapping), huge zip
directories, deep or wide MIME trees. ``SHAPES`` lists them with the outcome each must get.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from benchmarks.zips import Entry, overlapping_zip, raw_zip

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n<version>1.0</version>\n<report_metadata>'
    "<org_name>hostile.example</org_name><email>dmarc@hostile.example</email>"
    "<report_id>{report_id}</report_id><date_range><begin>1772323200</begin><end>1772409599</end></date_range>"
    "</report_metadata>\n<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf>"
    "<p>reject</p><sp>reject</sp><pct>100</pct></policy_published>\n"
)
RECORD = (
    "<record><row><source_ip>{ip}</source_ip><count>1</count><policy_evaluated><disposition>none</disposition>"
    "<dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from>"
    "</identifiers><auth_results><dkim><domain>{dkim_domain}</domain><selector>{selector}</selector>"
    "<result>pass</result>{human}</dkim><spf><domain>example.com</domain><result>fail</result></spf></auth_results></record>\n"
)
FOOTER = "</feedback>\n"
_BLOCK = 2000


def ipv4(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _records(out: BinaryIO, n: int, ip: Callable[[int], str], selector: Callable[[int], str], human: str = "") -> None:
    block: list[str] = []
    for i in range(n):
        block.append(RECORD.format(ip=ip(i), dkim_domain="example.com", selector=selector(i), human=human))
        if len(block) >= _BLOCK:
            out.write("".join(block).encode())
            block.clear()
    out.write("".join(block).encode())


def small_report(out: BinaryIO, n: int) -> None:
    """The yardstick: an ordinary report, the same IPs and auth results again and again."""
    out.write(HEADER.format(report_id="small").encode())
    _records(out, n, lambda i: ipv4(i % 50), lambda i: "s1")
    out.write(FOOTER.encode())


def distinct_ips(out: BinaryIO, n: int) -> None:
    """A spoofing campaign: every record from another source IP."""
    out.write(HEADER.format(report_id=f"ips-{n}").encode())
    _records(out, n, lambda i: ipv4(i) if i < 1 << 24 else f"2001:db8::{i:x}", lambda i: "s1")
    out.write(FOOTER.encode())


def distinct_auth(out: BinaryIO, n: int) -> None:
    """Every record with another DKIM selector and a long human_result: no two auth results alike."""
    human = "<human_result>" + "signature verified " * 50 + "</human_result>"
    out.write(HEADER.format(report_id=f"auth-{n}").encode())
    _records(out, n, lambda i: ipv4(i % 50), lambda i: f"sel{i}", human)
    out.write(FOOTER.encode())


def empty_elements(out: BinaryIO, megabytes: int) -> None:
    """Megabytes of empty elements that are not records, between the header and the one record."""
    out.write(HEADER.format(report_id="empty-elements").encode())
    chunk = b"<a/>" * (1 << 18)  # 1 MiB
    for _ in range(megabytes):
        out.write(chunk)
    _records(out, 1, ipv4, lambda i: "s1")
    out.write(FOOTER.encode())


def empty_elements_gzip(out: BinaryIO, megabytes: int) -> None:
    """The same flood, gzip-compressed: a small file that decompresses to far more than it weighs."""
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        empty_elements(gz, megabytes)  # type: ignore[arg-type]


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _tiny_report(report_id: str) -> bytes:
    return (HEADER.format(report_id=report_id) + RECORD.format(ip="192.0.2.1", dkim_domain="example.com",
                                                               selector="s1", human="") + FOOTER).encode()


def zip_of_zips(out: BinaryIO, width: int) -> None:
    """``width`` zips of ``width`` reports each: width^2 reports in one input."""
    inner = _zip([(f"r{i}.xml", _tiny_report(f"r{i}")) for i in range(width)])
    out.write(_zip([(f"z{j}.zip", inner) for j in range(width)]))


def overlapping_members(out: BinaryIO, count: int) -> None:
    """One compressed report listed ``count`` times: every entry points at the same data."""
    out.write(overlapping_zip(_tiny_report("overlap") * 1, count))


def directory_entries(out: BinaryIO, count: int) -> None:
    """A zip of ``count`` folder entries and one report."""
    entries = [Entry(f"d{i}/".encode(), b"", method=0) for i in range(count)]
    out.write(raw_zip(entries + [Entry(b"r.xml", _tiny_report("dirs"))]))


def deep_mime(out: BinaryIO, levels: int) -> None:
    """A report mail whose attachment sits under ``levels`` nested multiparts."""
    body = (b"Content-Type: application/xml\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + _tiny_report("deep") + b"\r\n")
    for i in range(levels):
        b = b"b%d" % i
        body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n" + body
                + b"\r\n--" + b + b"--\r\n")
    out.write(b"From: dmarc@hostile.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + body)


def wide_mime(out: BinaryIO, parts: int) -> None:
    """A mail of ``parts`` tiny parts (each becomes an object in the mail parser)."""
    out.write(b'From: dmarc@hostile.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="w"\r\n\r\n')
    block = b"--w\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 1000
    for _ in range(parts // 1000):
        out.write(block)
    out.write(b"--w--\r\n")


@dataclass(frozen=True)
class Shape:
    name: str
    label: str
    write: Callable[[BinaryIO, int], None]
    size_key: str  # which size field of the run scales it
    status: str  # the outcome it must get
    reason: str | None = None
    memory: bool = True  # a memory shape (compared with the small report); else a budget shape


SHAPES = (
    Shape("distinct_ips", "distinct source IPs in one report", distinct_ips, "hostile_records", "ingested"),
    Shape("distinct_auth", "distinct auth results, long texts", distinct_auth, "hostile_auth", "ingested"),
    Shape("empty_elements", "MB of empty non-record elements (XML)", empty_elements, "hostile_mb", "ingested"),
    # Far beyond the ratio limit: read (in flat memory) up to the limit, then refused.
    Shape("empty_elements_gzip", "MB of empty non-record elements (gzip)", empty_elements_gzip, "hostile_gzip_mb",
          "rejected", "too_large"),
    Shape("zip_of_zips", "zips of reports in a zip (width)", zip_of_zips, "hostile_width", "rejected", "too_large",
          memory=False),
    Shape("overlapping_zip", "overlapping zip entries", overlapping_members, "hostile_width", "rejected", "unreadable",
          memory=False),
    Shape("directory_entries", "zip folder entries", directory_entries, "hostile_entries", "rejected", "too_large",
          memory=False),
    Shape("deep_mime", "levels of nested MIME multiparts", deep_mime, "hostile_mime_levels", "rejected", "too_large",
          memory=False),
    Shape("wide_mime", "MIME parts in one mail", wide_mime, "hostile_mime_parts", "rejected", "too_large", memory=False),
)


def write_shape(shape: Shape, path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        shape.write(fh, size)
