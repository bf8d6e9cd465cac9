"""The report kinds dmarcflow knows: the one place that names them.

The pipeline (ingest, fetch, reprocess, listings, the search-index sync) asks this registry, never a
kind by name. A new kind is one entry here plus its modules (see ``kinds.base``).
"""

from __future__ import annotations

from email.message import Message

from dmarcflow.kinds.aggregate_kind import AggregateKind
from dmarcflow.kinds.base import ReportKind
from dmarcflow.kinds.failure_kind import FailureKind
from dmarcflow.kinds.tls_kind import TlsKind

KINDS: tuple[ReportKind, ...] = (AggregateKind(), TlsKind(), FailureKind())


def kind_named(name: str) -> ReportKind:
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


NAMES = tuple(kind.name for kind in KINDS)
SHAPES = {shape: kind.name for kind in KINDS for shape in kind.shapes}  # content shape -> the kind of its reports
MAIL_HEADERS = tuple(sorted({name for kind in KINDS for name in kind.mail_headers}))


def mail_claim(msg: Message) -> tuple[str, str] | None:
    """(kind, WHOLE_MAIL or FALLBACK) of the first kind that takes this mail as a report itself."""
    for kind in KINDS:
        claim = kind.claims_mail(msg)
        if claim is not None:
            return kind.name, claim
    return None
