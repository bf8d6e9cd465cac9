"""The state of one benchmark run: sizes, a work folder for generated inputs, raw metrics."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from benchmarks.inputs import big_report
from benchmarks.year import Year, YearShape, year


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
    backfill_reports: int = 6_000  # a year of small reports (benchmarks/year.py)
    growth_reports: int = 100_000  # the cost-per-report curve goes up to this many stored reports
    growth_batch: int = 5_000  # one point of the curve per batch
    same_day_reports: int = 8_000  # the worst case: this many reports share one domain and day
    same_day_batch: int = 1_000
    big_records: int = 100_000  # the big report with a distinct source IP per record
    jobs_files: int = 40  # ingest --jobs: a folder of this many files ...
    jobs_records: int = 5_000  # ... of this many records each
    startup_runs: int = 9  # interleaved runs of each start-up command


QUICK = Sizes(parse_records=2_000, ingest_small=2_000, ingest_large=20_000, summary_records=20_000,
              summary_report_records=2_000, es_records=2_000, es_compare_records=300, imap_emails=30,
              imap_records_per_report=5, hostile_records=20_000, hostile_auth=5_000, hostile_mb=2, hostile_gzip_mb=8,
              hostile_width=16, hostile_entries=10_000, hostile_mime_levels=1_000, hostile_mime_parts=10_000,
              backfill_reports=60, growth_reports=600, growth_batch=200,
              same_day_reports=300, same_day_batch=100, big_records=2_000, jobs_files=4, jobs_records=200,
              startup_runs=2)


def size_fields() -> list[str]:
    return [f.name for f in fields(Sizes)]


@dataclass
class Run:
    sizes: Sizes
    workdir: Path
    seed: int = 1
    keep_summary_db: Path | None = None  # reuse or keep the 10M-record store here
    repeat: int = 3  # runs of each side of a comparison, interleaved; the best of each counts
    keep_inputs: bool = False  # --workdir given: generated inputs are kept there and reused
    metrics: dict[str, Any] = field(default_factory=dict)
    stores: dict[str, Path] = field(default_factory=dict)  # stores a stage left for a later one (store sizes)
    _reports: dict[tuple[int, bool], Path] = field(default_factory=dict)

    def report(self, n_records: int, distinct_ips: bool = False) -> Path:
        """The big Google-style report with n_records records, generated once per run.

        distinct_ips: every record from a source IP of its own (else 2,000 sources).
        """
        key = (n_records, distinct_ips)
        if key not in self._reports:
            path = self.workdir / f"report-v1-s{self.seed}-{n_records}{'-distinct' if distinct_ips else ''}.xml"
            if not path.exists():  # only a complete file has this name: it is renamed once written
                log(f"generating a {n_records:,}-record report{' (a distinct IP per record)' if distinct_ips else ''}")
                partial = path.with_suffix(".partial")
                big_report(partial, n_records, self.seed, distinct_ips)
                partial.rename(path)
            self._reports[key] = path
        return self._reports[key]

    def year(self) -> Year:
        """The year of small reports (folder and mbox), generated once; cached under --workdir."""
        shape = YearShape(reports=self.sizes.backfill_reports)
        log(f"the year of small reports ({shape.reports:,}): generating unless cached in {self.workdir}")
        return year(self.workdir, self.seed, shape)

    def forget_report(self, n_records: int) -> None:
        path = self._reports.pop((n_records, False), None)
        if path is not None and not self.keep_inputs:  # with --workdir, inputs stay for the next run
            path.unlink(missing_ok=True)

    def record(self, stage: str, metrics: dict[str, Any]) -> None:
        self.metrics[stage] = metrics


def log(message: str) -> None:
    print(f"[benchmarks] {message}", file=sys.stderr, flush=True)
