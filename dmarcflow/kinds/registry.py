"""The report kinds dmarcflow knows: the one place that names them.

The pipeline (ingest, fetch, reprocess, listings, the search-index sync) asks this registry, never a
kind by name. A new kind is one entry here plus its modules (see ``kinds.base``).

Each entry says what extraction needs before any report is read (the kind's name, the content shapes
it reads, the mail headers it wants) and which module implements it; that module, with its parser,
store repository and index feed, is imported only when an input holds such a report (``kind_named``)
or when a caller wants every kind (``kinds``). An aggregate report's ingest so imports neither the TLS
nor the failure kind. A test checks that every entry says what its kind's class says.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from email.message import Message

    from dmarcflow.kinds.base import ReportKind

__all__ = ["ENTRIES", "MAIL_HEADERS", "NAMES", "SHAPES", "KindEntry", "kind_named", "kinds", "mail_claim"]


class KindEntry(NamedTuple):
    """One kind as the registry knows it without importing it."""

    name: str
    module: str  # the module of its ReportKind class
    cls: str  # that class's name (it takes no arguments)
    shapes: tuple[str, ...]  # the kind's ``shapes``
    mail_headers: tuple[str, ...]  # the kind's ``mail_headers``


ENTRIES: tuple[KindEntry, ...] = (
    KindEntry("aggregate", "dmarcflow.kinds.aggregate_kind", "AggregateKind", ("xml",), ()),
    KindEntry("tls", "dmarcflow.kinds.tls_kind", "TlsKind", ("json",), ("tls-report-domain", "tls-report-submitter")),
    KindEntry("failure", "dmarcflow.kinds.failure_kind", "FailureKind", (), ()),
)

NAMES = tuple(entry.name for entry in ENTRIES)
SHAPES = {shape: entry.name for entry in ENTRIES for shape in entry.shapes}  # content shape -> the kind of its reports
MAIL_HEADERS = tuple(sorted({name for entry in ENTRIES for name in entry.mail_headers}))


def _load(entry: KindEntry) -> ReportKind:
    # Kinds hold no state: a new instance of the class is the kind (the module stays imported).
    return cast("ReportKind", getattr(importlib.import_module(entry.module), entry.cls)())


def kind_named(name: str) -> ReportKind:
    for entry in ENTRIES:
        if entry.name == name:
            return _load(entry)
    raise KeyError(name)


def kinds() -> tuple[ReportKind, ...]:
    """Every kind, in the registry's order (aggregate first); this imports all of them."""
    return tuple(_load(entry) for entry in ENTRIES)


def mail_claim(msg: Message) -> tuple[str, str] | None:
    """(kind, WHOLE_MAIL or FALLBACK) of the first kind that takes this mail as a report itself."""
    for kind in kinds():
        claim = kind.claims_mail(msg)
        if claim is not None:
            return kind.name, claim
    return None
