"""The state of one benchmark run: sizes, a work folder for generated inputs, raw metrics."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from benchmarks.inputs import big_report


@dataclass(frozen=True)
class Sizes:
    parse_records: int = 100_000
    ingest_small: int = 100_000
    ingest_large: int = 1_000_000
    summary_records: int = 10_000_000
    summary_report_records: int = 100_000  # records per report of the summary store
    es_records: int = 100_000  # documents dmarcflow syncs for the docs/s figure
    es_compare_records: int = 5_000  # the report both tools index, for the ratio
    imap_emails: int = 1_000
    imap_records_per_report: int = 20
    hostile_records: int = 1_000_000  # records, each from another source IP
    hostile_auth: int = 30_000  # records, each with another auth result
    hostile_mb: int = 20  # MB of empty non-record elements in one XML
    hostile_gzip_mb: int = 400  # the same, gzip-compressed (most is cut by the ratio limit)
    hostile_width: int = 64  # zip of zips: width x width reports; overlapping entries
    hostile_entries: int = 100_000  # folder entries in one zip
    hostile_mime_levels: int = 1_000
    hostile_mime_parts: int = 100_000


QUICK = Sizes(parse_records=2_000, ingest_small=2_000, ingest_large=20_000, summary_records=20_000,
              summary_report_records=2_000, es_records=2_000, es_compare_records=300, imap_emails=30,
              imap_records_per_report=5, hostile_records=20_000, hostile_auth=5_000, hostile_mb=2, hostile_gzip_mb=8,
              hostile_width=16, hostile_entries=10_000, hostile_mime_levels=1_000, hostile_mime_parts=10_000)


def size_fields() -> list[str]:
    return [f.name for f in fields(Sizes)]


@dataclass
class Run:
    sizes: Sizes
    workdir: Path
    seed: int = 1
    keep_summary_db: Path | None = None  # reuse or keep the 10M-record store here
    repeat: int = 3  # runs of each side of a comparison, interleaved; the best of each counts
    metrics: dict[str, Any] = field(default_factory=dict)
    _reports: dict[int, Path] = field(default_factory=dict)

    def report(self, n_records: int) -> Path:
        """The big Google-style report with n_records records, generated once per run."""
        if n_records not in self._reports:
            path = self.workdir / f"report-{n_records}.xml"
            log(f"generating a {n_records:,}-record report")
            big_report(path, n_records, self.seed)
            self._reports[n_records] = path
        return self._reports[n_records]

    def forget_report(self, n_records: int) -> None:
        path = self._reports.pop(n_records, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def record(self, stage: str, metrics: dict[str, Any]) -> None:
        self.metrics[stage] = metrics


def log(message: str) -> None:
    print(f"[benchmarks] {message}", file=sys.stderr, flush=True)
