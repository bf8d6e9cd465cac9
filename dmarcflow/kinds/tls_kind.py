"""SMTP TLS reports behind the report-kind seam: bounded read, parse, store, reprocess, list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmarcflow.errors import InputError, StoreError, Warnings
from dmarcflow.kinds.base import KindSettings, Parsed, Payload, Reprocessed, Stored, page
from dmarcflow.kinds.json_input import read_bounded
from dmarcflow.kinds.tls import LIMITS, parse_tls
from dmarcflow.models import TlsReport
from dmarcflow.store.browse import ReportFilter, ReportRow
from dmarcflow.store.sqlite import Store
from dmarcflow.store.tls import TlsReports
from dmarcflow.utc import iso

if TYPE_CHECKING:
    from email.message import Message

    from dmarcflow.index.feed import Feed

REPORT_DOMAIN, SUBMITTER = "tls-report-domain", "tls-report-submitter"


@dataclass(frozen=True)
class ParsedTls:
    report: TlsReport
    raw: bytes
    warnings: tuple[str, ...]
    kind: str = "tls"

    def source_ips(self) -> tuple[str, ...]:
        return ()  # TLS reports keep no IP facts


class TlsKind:
    name = "tls"
    shapes = ("json",)
    mail_headers = (REPORT_DOMAIN, SUBMITTER)

    @property
    def feed(self) -> Feed:
        from dmarcflow.index.tls import TlsFeed  # here: only what indexes needs the index modules

        return TlsFeed()

    def claims_mail(self, msg: Message) -> str | None:
        return None  # a TLS report is a part of its mail (found by its bytes), not the mail itself

    def store(self, store: Store, payload: Payload, source: str, settings: KindSettings) -> Stored:
        return self.save(store, self.parse(payload, settings), source, settings)

    def parse(self, payload: Payload, settings: KindSettings) -> Parsed:
        sink = Warnings(payload.warnings)
        with payload.open(sink) as stream:
            data = read_bounded(stream, LIMITS.max_bytes, "the SMTP TLS report")
        report = parse_tls(data, report_domain=payload.header(REPORT_DOMAIN), submitter=payload.header(SUBMITTER))
        for code in report.warnings:
            sink.add(code)
        return ParsedTls(report, data, sink.codes())

    def save(self, store: Store, parsed: Parsed, source: str, settings: KindSettings) -> Stored:
        assert isinstance(parsed, ParsedTls)
        with store.transaction():
            saved = TlsReports(store).save(parsed.report, source=source, raw=parsed.raw, warnings=parsed.warnings)
        return Stored(saved.status, saved.policies, 0, parsed.warnings)

    def reprocess(self, store: Store) -> Reprocessed:
        repo = TlsReports(store)
        reports = policies = 0
        for pk, domain, submitter, raw in repo.raw_reports():
            assert raw is not None  # the raw JSON is kept with every TLS report
            try:
                report = parse_tls(raw, report_domain=domain, submitter=submitter)
            except InputError as exc:
                raise StoreError(f"reprocess: TLS report {pk} no longer reads ({exc.reason}: {exc.message}); "
                                 "nothing was changed") from None
            repo.replace(pk, report)
            reports += 1
            policies += len(report.policies)
        return Reprocessed(reports, policies, 0, 0, f"reprocessed {reports} SMTP TLS report(s): {policies} policies")

    def list_reports(self, store: Store, where: ReportFilter, *, limit: int | None = None,
                     offset: int = 0) -> list[ReportRow]:
        rows = [
            ReportRow(r.id, r.org_name, r.report_id, ",".join(r.policy_domains), iso(r.begin_ts), iso(r.end_ts),
                      "rfc8460", r.policies, 0, r.status, r.conflict_of, r.source, r.warnings, kind=self.name)
            for r in TlsReports(store).reports(where.domain)
        ]
        return page(rows, where, limit, offset)
