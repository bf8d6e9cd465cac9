"""SMTP TLS reports behind the report-kind seam: bounded read, parse, store, reprocess, list."""

from __future__ import annotations

from dmarcflow.errors import ParseError
from dmarcflow.index.tls import TlsFeed
from dmarcflow.kinds.base import KindPayload, KindSettings, ListedReport, Reprocessed, Stored
from dmarcflow.kinds.json_input import read_bounded
from dmarcflow.kinds.tls import LIMITS, parse_tls
from dmarcflow.store.sqlite import Store
from dmarcflow.store.tls import TlsReports
from dmarcflow.utc import iso


class TlsKind:
    feed = TlsFeed()
    name = "tls"

    def store(self, store: Store, payload: KindPayload, source: str, settings: KindSettings) -> Stored:
        with payload.open() as stream:
            data = read_bounded(stream, LIMITS.max_bytes, "the SMTP TLS report")
        report = parse_tls(data, report_domain=payload.context.report_domain, submitter=payload.context.submitter)
        with store.transaction():
            saved = TlsReports(store).save(report, source=source, raw=data)
        return Stored(saved.status, saved.policies, 0)

    def reprocess(self, store: Store, settings: KindSettings) -> Reprocessed:
        repo = TlsReports(store)
        reports = policies = skipped = 0
        for pk, domain, submitter, raw in repo.raw_reports():
            if raw is None:
                skipped += 1
                continue
            try:
                report = parse_tls(raw, report_domain=domain, submitter=submitter)
            except ParseError:
                skipped += 1  # a parser that became stricter keeps the old rows rather than losing them
                continue
            repo.replace(pk, report)
            reports += 1
            policies += len(report.policies)
        return Reprocessed(reports, policies, 0, skipped)

    def list_reports(self, store: Store, domain: str | None) -> list[ListedReport]:
        return [
            ListedReport("tls", r.id, r.org_name, r.report_id, ",".join(r.policy_domains), iso(r.begin_ts),
                         iso(r.end_ts), "rfc8460", r.policies, 0, r.status, r.conflict_of, r.source, r.warnings)
            for r in TlsReports(store).reports(domain)
        ]
