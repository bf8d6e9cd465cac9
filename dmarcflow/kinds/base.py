"""The report-kind seam: what extraction hands a kind, what a kind hands back, and the Protocol.

The pipeline (extract, ingest, fetch, reprocess, listings, the search-index sync) works only with
these types and ``ReportKind``; which kinds exist is said once, in ``dmarcflow.kinds.registry``. A
kind is one module per layer: its parser (``kinds/<kind>.py``), its store repository
(``store/<kind>.py`` and a migration), its index feed and documents (``index/<kind>.py``), its
summary (``analysis/<kind>.py``) and its commands (``cli/<kind>.py``); its ``ReportKind``
(``kinds/<kind>_kind.py``) wires them to the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

from dmarcflow.config import Limits
from dmarcflow.errors import Warnings
from dmarcflow.store.sqlite import Store
from dmarcflow.utc import parse_iso

if TYPE_CHECKING:
    from email.message import Message

    from dmarcflow.index.feed import Feed
    from dmarcflow.store.browse import ReportFilter, ReportRow  # the listings: not imported to ingest

Opener = Callable[[Warnings], IO[bytes]]  # the sink collects quirks met while the bytes are read

WHOLE_MAIL = "whole"  # a mail-level kind takes the whole mail, and its parts are not walked
FALLBACK = "fallback"  # ... takes the mail only when none of its parts is a report


@dataclass(frozen=True)
class Payload:
    """One document that should be a report of ``kind``, recognised by its bytes."""

    name: str
    kind: str  # a ReportKind's name
    open: Opener
    warnings: tuple[str, ...] = ()  # quirks of the layers it came through
    sender_domain: str | None = None  # the From domain of the mail that carried it
    mail_headers: tuple[tuple[str, str], ...] = ()  # the carrying mail's headers the kinds asked for (lowercase names)

    def header(self, name: str) -> str | None:
        for key, value in self.mail_headers:
            if key == name.lower():
                return value
        return None


@dataclass(frozen=True)
class KindSettings:
    """The settings a kind may read while storing."""

    limits: Limits = field(default_factory=Limits)
    keep_failure_samples: bool = False  # [failure_reports] keep_samples
    need_rdns: bool = False  # mark source IPs for a reverse DNS lookup too (online runs)


@dataclass(frozen=True)
class Stored:
    """What storing one payload amounted to."""

    status: str  # ingested | duplicate | conflict
    records: int  # aggregate: records; tls: policies; failure: 1
    messages: int  # aggregate: sum of record counts; 0 for the other kinds (sessions are not messages)
    warnings: tuple[str, ...] = ()
    marked_ips: bool = False  # source IPs were marked for enrichment in the store: complete it after the commit


class Parsed(Protocol):
    """A payload parsed without the store (``ReportKind.parse``), for ``ReportKind.save`` in the one writer.

    Each kind has its own frozen type; it must pickle cheaply (worker processes send it to the writer),
    and it holds every outcome parsing could decide (a rejection is raised, not returned).
    """

    @property
    def kind(self) -> str: ...

    def source_ips(self) -> tuple[str, ...]:
        """The source IPs the report is about (the store marks those without facts for enrichment)."""
        ...


@dataclass(frozen=True)
class Reprocessed:
    reports: int
    records: int
    messages: int
    skipped: int  # reports with nothing kept to parse again
    text: str = ""  # what was done, in the kind's own words ("reprocessed 4 failure report(s)")


class ReportKind(Protocol):
    """One kind of report, as the pipeline sees it."""

    @property
    def name(self) -> str:
        """Aggregate | tls | failure: the ``kind`` key of outcomes and listings."""
        ...

    @property
    def shapes(self) -> tuple[str, ...]:
        """The content shapes (``extract.detect``: xml, json) whose documents are reports of this kind."""
        ...

    @property
    def mail_headers(self) -> tuple[str, ...]:
        """Headers of the carrying mail this kind reads (lowercase), handed down with its payloads."""
        ...

    @property
    def feed(self) -> Feed:
        """Its side of the search-index outbox: rows, documents, index family."""
        ...

    def claims_mail(self, msg: Message) -> str | None:
        """WHOLE_MAIL or FALLBACK when the mail itself is a report of this kind, else None."""
        ...

    def store(self, store: Store, payload: Payload, source: str, settings: KindSettings) -> Stored:
        """Parse the payload and store it (own transaction); raise ``InputError`` to reject it."""
        ...

    def parse(self, payload: Payload, settings: KindSettings) -> Parsed:
        """The parse half of ``store``, without a store (in a worker process); raise ``InputError`` to reject
        it, ``NotAReport`` to skip it, ``TooLargeForWorker`` when it is better stored by ``store`` itself."""
        ...

    def save(self, store: Store, parsed: Parsed, source: str, settings: KindSettings) -> Stored:
        """The store half of ``store`` (own transaction): the same outcome ``store`` gives the same payload."""
        ...

    def reprocess(self, store: Store) -> Reprocessed:
        """Parse every stored report again from what was kept; call inside ``Store.transaction()``.

        A report that no longer parses raises ``StoreError`` naming it (the caller rolls everything back).
        """
        ...

    def list_reports(self, store: Store, where: ReportFilter, *, limit: int | None = None,
                     offset: int = 0) -> list[ReportRow]:
        """Its stored reports matching ``where``, oldest first, paged."""
        ...



def page(rows: list[ReportRow], where: ReportFilter, limit: int | None, offset: int) -> list[ReportRow]:
    """``where`` applied to a kind's rows (oldest first), then the page: for the kinds whose tables are small."""
    kept = [r for r in rows if _matches(r, where)]
    return kept[offset:offset + limit if limit is not None else None]


def _matches(row: ReportRow, where: ReportFilter) -> bool:
    begin = parse_iso(row.begin).timestamp()
    return ((where.domain is None or where.domain in row.domain.split(","))
            and (where.status is None or row.status == where.status)
            and (where.begin_ts is None or begin >= where.begin_ts)
            and (where.end_ts is None or begin < where.end_ts))
