"""The report-kind seam: what the pipeline hands a kind, what a kind hands back, and the Protocol.

The pipeline (ingest, fetch, reprocess, listings) works only with these types and ``ReportKind``;
which kinds exist is said once, in ``dmarcflow.kinds.registry``. A kind is one module per layer:
its parser (``kinds/<kind>.py``), its store repository (``store/<kind>.py`` and a migration), its
documents for the search index (``index/``), its summary (``analysis/``) and its commands (``cli/``);
its ``ReportKind`` implementation (``kinds/<kind>_kind.py``) wires them to the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

from dmarcflow.config import Limits
from dmarcflow.store.sqlite import Store

if TYPE_CHECKING:
    from dmarcflow.index.feed import Feed

Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class MailContext:
    """Facts of the mail a payload came in (all None for a file)."""

    report_domain: str | None = None  # TLS-Report-Domain
    submitter: str | None = None  # TLS-Report-Submitter


@dataclass(frozen=True)
class KindPayload:
    """One detected report: its name in the input, a re-openable byte stream, and the mail's facts."""

    name: str
    open: Opener
    context: MailContext = field(default_factory=MailContext)


@dataclass(frozen=True)
class KindSettings:
    """The settings a kind may read while storing."""

    limits: Limits = field(default_factory=Limits)
    keep_failure_samples: bool = False  # [failure_reports] keep_samples


@dataclass(frozen=True)
class Stored:
    """What storing one payload amounted to."""

    status: str  # ingested | duplicate | conflict
    records: int  # aggregate: records; tls: policies; failure: 1
    messages: int  # aggregate: sum of record counts; 0 for the other kinds (sessions are not messages)
    ips: frozenset[str] = frozenset()  # source IPs to enrich once the store committed


@dataclass(frozen=True)
class Reprocessed:
    reports: int
    records: int
    messages: int
    skipped: int  # reports with nothing kept to parse again


@dataclass(frozen=True)
class ListedReport:
    """One stored report of any kind, as ``dmarcflow reports`` lists it."""

    kind: str
    id: int  # unique within its kind
    org_name: str
    report_id: str
    domain: str
    begin: str
    end: str
    schema: str
    records: int
    messages: int
    status: str
    conflict_of: int | None
    source: str | None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "org_name": self.org_name, "report_id": self.report_id, "domain": self.domain,
            "begin": self.begin, "end": self.end, "schema": self.schema, "records": self.records,
            "messages": self.messages, "status": self.status, "conflict_of": self.conflict_of, "source": self.source,
            "kind": self.kind, "warnings": list(self.warnings),
        }


class ReportKind(Protocol):
    """One kind of report, as the pipeline sees it."""

    @property
    def name(self) -> str:
        """aggregate | tls | failure: the ``kind`` key of outcomes and listings."""
        ...

    @property
    def feed(self) -> Feed:
        """Its side of the search-index outbox: rows, documents, index family."""
        ...

    def store(self, store: Store, payload: KindPayload, source: str, settings: KindSettings) -> Stored:
        """Parse the payload and store it (own transaction); raise ``InputError`` to reject it."""
        ...

    def reprocess(self, store: Store, settings: KindSettings) -> Reprocessed:
        """Parse every stored report again from what was kept; call inside ``Store.transaction()``."""
        ...

    def list_reports(self, store: Store, domain: str | None) -> list[ListedReport]:
        ...
