"""The report kinds dmarcflow knows: the one place that names them.

The pipeline (ingest, fetch, reprocess, listings, the search-index sync) asks this registry, never a
kind by name. A new kind is one entry here plus its modules (see ``kinds.base``).
"""

from __future__ import annotations

from dmarcflow.kinds.base import ReportKind
from dmarcflow.kinds.failure_kind import FailureKind
from dmarcflow.kinds.tls_kind import TlsKind

KINDS: tuple[ReportKind, ...] = (TlsKind(), FailureKind())


def kind_named(name: str) -> ReportKind:
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


NAMES = tuple(kind.name for kind in KINDS)
