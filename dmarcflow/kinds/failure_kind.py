"""DMARC failure reports behind the report-kind seam: parse the mail, store metadata, reprocess, list.

The raw mail is handed to the store only with ``[failure_reports] keep_samples``; otherwise reprocess
parses again from the kept fields and header block.
"""

from __future__ import annotations

from dmarcflow.errors import ParseError
from dmarcflow.index.failures import FailureFeed
from dmarcflow.kinds.arf import MailFacts
from dmarcflow.kinds.base import KindPayload, KindSettings, ListedReport, Reprocessed, Stored
from dmarcflow.kinds.failure import parse_failure_mail, reparse
from dmarcflow.kinds.json_input import read_bounded
from dmarcflow.models import FailureReport
from dmarcflow.store.failures import FailureReports, KeptFailure
from dmarcflow.store.sqlite import Store
from dmarcflow.utc import iso


class FailureKind:
    feed = FailureFeed()
    name = "failure"

    def store(self, store: Store, payload: KindPayload, source: str, settings: KindSettings) -> Stored:
        with payload.open() as stream:
            raw = read_bounded(stream, settings.limits.max_message_bytes, "the failure report mail")
        report = parse_failure_mail(raw)
        with store.transaction():
            saved = FailureReports(store).save(report, source=source,
                                               sample=raw if settings.keep_failure_samples else None)
        return Stored(saved.status, 1, 0, frozenset({report.source_ip}) if saved.status == "ingested" else frozenset())

    def reprocess(self, store: Store, settings: KindSettings) -> Reprocessed:
        repo = FailureReports(store)
        reports = skipped = 0
        for kept in list(repo.kept()):
            try:
                report = _parse_kept(kept)
            except ParseError:
                skipped += 1  # a parser that became stricter keeps the old row rather than losing it
                continue
            repo.replace(kept.id, report)
            reports += 1
        return Reprocessed(reports, reports, 0, skipped)

    def list_reports(self, store: Store, domain: str | None) -> list[ListedReport]:
        rows = FailureReports(store).reports(domain)
        return [
            ListedReport("failure", r.id, r.reporter, r.message_id or "", r.reported_domain, iso(r.arrival_ts),
                         iso(r.arrival_ts), _schema(r.identity_alignment, r.warnings), 1, 0, "active", None, r.source,
                         r.warnings)
            for r in sorted(rows, key=lambda r: (r.arrival_ts, r.id))
        ]


def _parse_kept(kept: KeptFailure) -> FailureReport:
    if kept.sample is not None:
        return parse_failure_mail(kept.sample)
    return reparse(kept.feedback_fields, kept.original_headers, MailFacts(kept.submitter, kept.mail_date, kept.body_omitted))


def _schema(alignment: tuple[str, ...] | None, warnings: tuple[str, ...]) -> str:
    """rfc9991 when the report has Identity-Alignment, a plain notice as such, else rfc6591."""
    if "plain_text_notice" in warnings:
        return "notice"
    return "rfc9991" if alignment is not None else "rfc6591"
