"""Benchmark inputs, all from the seeded generator: one huge report, a mixed corpus, report emails.

The corpus mixes reporters (Google, Microsoft, Yahoo, Mail.Ru, ...), their schemas
(RFC 7489, the draft, RFC 9990 with and without namespace), their formatting quirks,
days, and packaging (xml, gzip, zip; emails carry xml, gzip or zip attachments).
Compressed files are streamed, so a corpus of any size never sits in memory.
"""

from __future__ import annotations

import gzip
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.generator import (
    DEFAULT_DOMAINS, REPORTERS, Figures, Options, ReportSpec, generate_dataset, gzip_bytes,
    policy_for, render_xml, report_email, report_filename, report_header, stream_report_spec,
    write_report_xml, zip_bytes,
)

DAY = 86400
PACKAGINGS = ("xml", "gz", "zip")
SOURCE_POOLS = 8  # distinct seeded source pools a corpus draws from (2,000 sources each)


def packaging_of(index: int) -> str:
    # Shifted every full round of reporters, so that each reporter sends every packaging.
    return PACKAGINGS[(index + index // len(REPORTERS)) % len(PACKAGINGS)]


def big_report(path: Path, n_records: int, seed: int = 1, distinct_ips: bool = False) -> Figures:
    """One Google-style report with n_records records, streamed to path (about 471 bytes a record).

    distinct_ips: a source IP of its own for every record (else 2,000 sources).
    """
    return write_report_xml(path, stream_report_spec(seed), n_records, seed=seed, distinct_ips=distinct_ips)


def corpus_header(seed: int, index: int) -> ReportSpec:
    """Report ``index`` of a corpus: its reporter, schema and quirks rotate; one day each."""
    rng = random.Random(seed * 1_000_003 + index)
    reporter = REPORTERS[index % len(REPORTERS)]
    policy = policy_for(DEFAULT_DOMAINS[0], reporter.schema)
    begin = Options().start + index * DAY
    return report_header(rng, reporter, policy, reporter.schema, begin, index, True)


def write_corpus_file(folder: Path, seed: int, index: int, n_records: int) -> tuple[Path, Figures]:
    """Report ``index`` of the corpus as xml, .xml.gz or .zip (by index), streamed to folder."""
    header = corpus_header(seed, index)
    packaging = packaging_of(index)
    pool_seed = seed + index % SOURCE_POOLS
    name = report_filename(header, ".xml")
    if packaging == "xml":
        path = folder / name
        return path, write_report_xml(path, header, n_records, seed=pool_seed)
    if packaging == "gz":
        path = folder / (name + ".gz")
        # Level 1: the benchmark measures ingest, not how hard the generator compresses.
        with gzip.open(path, "wb", compresslevel=1) as fh:
            return path, write_report_xml(fh, header, n_records, seed=pool_seed)
    path = folder / name.replace(".xml", ".zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, zf.open(name, "w") as fh:
        return path, write_report_xml(fh, header, n_records, seed=pool_seed)


_EMAIL_TYPES = {"xml": "text/xml", "gz": "application/gzip", "zip": "application/zip"}


def report_emails(count: int, records_per_report: int, seed: int) -> Iterator[bytes]:
    """count report emails (mixed reporters, schemas, quirks, days; xml / gz / zip attachments)."""
    data = generate_dataset(seed, Options(reports=count, records_per_report=records_per_report,
                                          schema="mixed", quirks=True, days=28))
    for index, report in enumerate(data.reports):
        xml = render_xml(report)
        packaging = packaging_of(index)
        if packaging == "xml":
            attachment, filename = xml, report_filename(report, ".xml")
        elif packaging == "gz":
            attachment, filename = gzip_bytes(xml), report_filename(report, ".xml.gz")
        else:
            inner = report_filename(report, ".xml")
            attachment, filename = zip_bytes([(inner, xml)]), inner.replace(".xml", ".zip")
        yield report_email(attachment, filename, _EMAIL_TYPES[packaging], report)
