"""DMARC failure reports behind the report-kind seam: the whole mail is the report.

The raw mail is handed to the store only with ``[failure_reports] keep_samples``; otherwise reprocess
parses again from the kept ARF fields and the original's header block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmarcflow.errors import InputError, StoreError, Warnings
from dmarcflow.kinds.arf import MailFacts
from dmarcflow.kinds.base import FALLBACK, WHOLE_MAIL, KindSettings, Parsed, Payload, Reprocessed, Stored, page
from dmarcflow.kinds.failure import mail_claim, parse_failure_mail, reparse
from dmarcflow.kinds.json_input import read_bounded
from dmarcflow.models import FailureReport
from dmarcflow.store.browse import ReportFilter, ReportRow
from dmarcflow.store.failures import FailureReports, KeptFailure
from dmarcflow.store.sqlite import Store
from dmarcflow.utc import iso

if TYPE_CHECKING:
    from email.message import Message

    from dmarcflow.index.feed import Feed


@dataclass(frozen=True)
class ParsedFailure:
    report: FailureReport
    raw: bytes  # the whole mail: stored only with [failure_reports] keep_samples
    warnings: tuple[str, ...]
    kind: str = "failure"

    def source_ips(self) -> tuple[str, ...]:
        return (self.report.source_ip,)


class FailureKind:
    name = "failure"
    shapes: tuple[str, ...] = ()  # no document shape of its own: a failure report is a mail
    mail_headers: tuple[str, ...] = ()

    @property
    def feed(self) -> Feed:
        from dmarcflow.index.failures import FailureFeed  # here: only what indexes needs the index modules

        return FailureFeed()

    def claims_mail(self, msg: Message) -> str | None:
        """An ARF part makes the mail a failure report; a plain-text notice does when nothing else in it is a report."""
        found = mail_claim(msg)
        return {"arf": WHOLE_MAIL, "notice": FALLBACK}.get(found or "")

    def store(self, store: Store, payload: Payload, source: str, settings: KindSettings) -> Stored:
        return self.save(store, self.parse(payload, settings), source, settings)

    def parse(self, payload: Payload, settings: KindSettings) -> Parsed:
        sink = Warnings(payload.warnings)
        with payload.open(sink) as stream:
            raw = read_bounded(stream, settings.limits.max_message_bytes, "the failure report mail")
        report = parse_failure_mail(raw)
        for code in report.warnings:
            sink.add(code)
        return ParsedFailure(report, raw, sink.codes())

    def save(self, store: Store, parsed: Parsed, source: str, settings: KindSettings) -> Stored:
        assert isinstance(parsed, ParsedFailure)
        with store.transaction():
            saved = FailureReports(store).save(parsed.report, source=source, need_rdns=settings.need_rdns,
                                               sample=parsed.raw if settings.keep_failure_samples else None,
                                               warnings=parsed.warnings)
        return Stored(saved.status, 1, 0, parsed.warnings, marked_ips=saved.marked_ips)

    def reprocess(self, store: Store) -> Reprocessed:
        repo = FailureReports(store)
        reports = 0
        for kept in list(repo.kept()):
            try:
                report = _parse_kept(kept)
            except InputError as exc:
                raise StoreError(f"reprocess: failure report {kept.id} no longer reads ({exc.reason}: {exc.message}); "
                                 "nothing was changed") from None
            repo.replace(kept.id, report)
            reports += 1
        return Reprocessed(reports, reports, 0, 0, f"reprocessed {reports} DMARC failure report(s)")

    def list_reports(self, store: Store, where: ReportFilter, *, limit: int | None = None,
                     offset: int = 0) -> list[ReportRow]:
        found = sorted(FailureReports(store).reports(where.domain), key=lambda r: (r.arrival_ts, r.id))
        rows = [
            ReportRow(r.id, r.reporter, r.message_id or "", r.reported_domain, iso(r.arrival_ts), iso(r.arrival_ts),
                      _schema(r.identity_alignment, r.warnings), 1, 0, "active", None, r.source, r.warnings,
                      kind=self.name)
            for r in found
        ]
        return page(rows, where, limit, offset)


def _parse_kept(kept: KeptFailure) -> FailureReport:
    if kept.sample is not None:
        return parse_failure_mail(kept.sample)
    return reparse(kept.feedback_fields, kept.original_headers, MailFacts(kept.submitter, kept.mail_date, kept.body_omitted))


def _schema(alignment: tuple[str, ...] | None, warnings: tuple[str, ...]) -> str:
    """rfc9991 when the report has Identity-Alignment, a plain notice as such, else rfc6591."""
    if "plain_text_notice" in warnings:
        return "notice"
    return "rfc9991" if alignment is not None else "rfc6591"
