"""A year of small aggregate reports, the backfill a new user runs first (issue 16's shape).

About 6,000 reports of 1-50 records for three policy domains over 365 days, from a pool of 60
reporters (each one of the generator's six reporter archetypes: its schema, quirks and envelope_to),
each reporter sending always the same packaging (xml, .xml.gz or .zip; a third each). Everything is
drawn from one seed, so the totals (reports, records, messages) are known exactly and written to a
manifest next to the files.

The year is written once as a folder of files, and as an mbox holding one report mail per file
(the same attachment bytes), under a folder named after its parameters: a run with ``--workdir``
finds it there next time and generates nothing. The manifest is written last, so a folder without
one is an interrupted generation and is written again.

``reports()`` yields the same kind of reports one by one (for the store-growth curve, which goes past
one year), optionally all for one domain and one day: the worst case of the identity lookup.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import generator as g

DAY = 86400
PACKAGINGS = ("xml", "gz", "zip")
CONTENT_TYPES = {"xml": "text/xml", "gz": "application/gzip", "zip": "application/zip"}
FORMAT_VERSION = 1  # bump when the bytes this module writes change, so that caches are rewritten


@dataclass(frozen=True)
class YearShape:
    reports: int = 6_000
    days: int = 365
    reporters: int = 60
    min_records: int = 1
    max_records: int = 50
    sources_per_domain: int = 300  # distinct sending IPs a small domain sees in a year

    def key(self, seed: int) -> str:
        return (f"year-v{FORMAT_VERSION}-s{seed}-r{self.reports}-d{self.days}-p{self.reporters}"
                f"-n{self.min_records}-{self.max_records}-i{self.sources_per_domain}")


@dataclass(frozen=True)
class Packaged:
    filename: str
    data: bytes
    packaging: str  # xml | gz | zip
    report: g.ReportSpec
    xml_size: int  # bytes of the report's XML, unpacked


def reporter(k: int) -> tuple[g.Reporter, str]:
    """Reporter k of the pool and the packaging it always uses."""
    base = g.REPORTERS[k % len(g.REPORTERS)]
    packaging = PACKAGINGS[(k // len(g.REPORTERS)) % len(PACKAGINGS)]
    if k < len(g.REPORTERS):
        return base, packaging
    local, host = base.email.split("@", 1)
    number = k // len(g.REPORTERS) + 1
    return replace(base, org_name=f"{base.org_name} {number}", email=f"{local}@r{number}.{host}"), packaging


def reports(seed: int, shape: YearShape, count: int, same_day: bool = False) -> Iterator[Packaged]:
    """count reports in the year's shape (past one year the calendar goes on), packaged.

    same_day: every report is for the first domain and the first day (distinct reporters and ids).
    """
    rng = random.Random(seed)
    domains = g.DEFAULT_DOMAINS
    streams = [g.RecordStream(rng, d, g.Options().shares, shape.sources_per_domain) for d in domains]
    for i in range(count):
        day = 0 if same_day else i * shape.days // shape.reports
        which = 0 if same_day else i % len(domains)
        # 7 is prime to 60: consecutive reports (one day's) come from distinct reporters.
        rep, packaging = reporter((i * 7) % shape.reporters)
        policy = g.policy_for(domains[which], rep.schema)
        header = g.report_header(rng, rep, policy, rep.schema, g.Options().start + day * DAY, i, True)
        n = rng.randint(shape.min_records, shape.max_records)
        records = tuple(streams[which].next(policy, rep.envelope_to) for _ in range(n))
        yield package(replace(header, records=records), packaging, i)


def package(report: g.ReportSpec, packaging: str, index: int) -> Packaged:
    xml = g.render_xml(report)
    # The index keeps names unique: one reporter can send two reports for a domain on one day.
    stem = g.report_filename(report, "") + f"!{index:06d}"
    if packaging == "xml":
        return Packaged(stem + ".xml", xml, packaging, report, len(xml))
    if packaging == "gz":
        return Packaged(stem + ".xml.gz", g.gzip_bytes(xml), packaging, report, len(xml))
    return Packaged(stem + ".zip", g.zip_bytes([(stem + ".xml", xml)]), packaging, report, len(xml))


def email_of(item: Packaged) -> bytes:
    return g.report_email(item.data, item.filename, CONTENT_TYPES[item.packaging], item.report)


@dataclass(frozen=True)
class Year:
    folder: Path  # the report files
    mbox: Path  # one mail per file, same attachments
    manifest: dict[str, Any]

    @property
    def reports(self) -> int:
        return int(self.manifest["reports"])

    @property
    def records(self) -> int:
        return int(self.manifest["records"])

    @property
    def messages(self) -> int:
        return int(self.manifest["messages"])


def year(cache: Path, seed: int, shape: YearShape = YearShape()) -> Year:
    """The year's files and mbox under cache, generated unless a complete copy is there."""
    root = cache / shape.key(seed)
    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        return Year(root / "files", root / "year.mbox", json.loads(manifest_path.read_text()))
    shutil.rmtree(root, ignore_errors=True)
    folder = root / "files"
    folder.mkdir(parents=True)
    totals: Counter[str] = Counter()
    by_packaging: Counter[str] = Counter()
    with open(root / "year.mbox", "wb") as mbox:
        for item in reports(seed, shape, shape.reports):
            (folder / item.filename).write_bytes(item.data)
            mbox.write(g.mbox_bytes([(item.report.email, item.report.end + 3600, email_of(item))]))
            totals["reports"] += 1
            totals["records"] += len(item.report.records)
            totals["messages"] += sum(r.count for r in item.report.records)
            totals["xml_bytes"] += item.xml_size
            by_packaging[item.packaging] += 1
    manifest = {**totals, "by_packaging": dict(by_packaging), "seed": seed, "shape": asdict(shape)}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return Year(folder, root / "year.mbox", manifest)
