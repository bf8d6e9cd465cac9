"""DMARC failure reports in the search index: one document per report, strict mapping, ECS names.

``source.ip`` is the IP that sent the failing message, ``email.*`` holds the original's From and To
addresses, subject and Message-ID (ECS has these concepts); the rest sits under ``dmarc.failure``.
No body is ever indexed (none is stored). ``_id`` is a hash of the report's dedupe identity.
"""

from __future__ import annotations

import email.utils
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dmarcflow.index import outbox
from dmarcflow.index.feed import Document, kind_target
from dmarcflow.index.mapping import BOOLEAN, DATE, KEYWORD, LONG
from dmarcflow.store import Store
from dmarcflow.store.failures import (
    FailureIndexRow,
    failure_index_rows,
    failure_index_rows_by_id,
    failures_after,
    last_failure_id,
)
from dmarcflow.utc import iso

FAMILY = "failure"
ECS_VERSION = "8.11.0"
TEMPLATE_VERSION = 1
IP = {"type": "ip"}


def _obj(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"properties": properties}


def mappings() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "_meta": {"managed_by": "dmarcflow", "family": FAMILY, "template_version": TEMPLATE_VERSION},
        "properties": {
            "@timestamp": DATE,
            "ecs": _obj(version=KEYWORD),
            "event": _obj(ingested=DATE, kind=KEYWORD, category=KEYWORD, type=KEYWORD, outcome=KEYWORD,
                          dataset=KEYWORD, module=KEYWORD),
            "source": _obj(ip=IP),
            "related": _obj(ip=IP, hosts=KEYWORD),
            "email": _obj(**{"from": _obj(address=KEYWORD), "to": _obj(address=KEYWORD)}, subject=KEYWORD,
                          message_id=KEYWORD, delivery_timestamp=DATE),
            "dmarc": _obj(failure=_obj(
                uid=KEYWORD, reported_domain=KEYWORD, reporter=KEYWORD, feedback_type=KEYWORD, auth_failure=KEYWORD,
                identity_alignment=KEYWORD, delivery_result=KEYWORD, authentication_results={"type": "text"},
                dkim_domain=KEYWORD, dkim_selector=KEYWORD, spf_domain=KEYWORD, original_envelope_id=KEYWORD,
                original_mail_from=KEYWORD, original_rcpt_to=KEYWORD, user_agent=KEYWORD, reporting_mta=KEYWORD,
                submitter=KEYWORD, incidents=LONG, body_omitted=BOOLEAN, warnings=KEYWORD,
                auth_results=_obj(dmarc=KEYWORD, dkim=KEYWORD, spf=KEYWORD),
            )),
        },
    }


@dataclass(frozen=True)
class FailureFeed:
    """The failure outbox: stored failure reports in id order, a document each (in its arrival's period)."""

    kind: str = "failure"

    def target(self, base: str) -> str:
        return kind_target(base, self.kind)

    def family(self, prefix: str) -> str:
        return f"{prefix}-{FAMILY}"

    def mappings(self) -> dict[str, Any] | None:
        return mappings()

    def for_pass(self) -> FailureFeed:
        return self  # nothing kept between chunks

    def pending(self, store: Store, target: str, after: int, limit: int, now: datetime) -> Sequence[Any]:
        return failure_index_rows(store, after, limit)

    def rows_by_id(self, store: Store, ids: list[int]) -> Sequence[Any]:
        return failure_index_rows_by_id(store, ids)

    def seq(self, row: Any) -> int:
        return int(row.report.id)

    def begin_ts(self, row: Any) -> int:
        return int(row.report.arrival_ts)

    def documents(self, row: Any, index: str) -> list[Document]:
        doc_id, doc = document(row)
        return [(doc_id, index, doc)]

    def backlog(self, store: Store, target: str) -> outbox.Backlog:
        done = outbox.checkpoint(store, target)
        parked = len(outbox.failures(store, target, 1 << 30))
        return outbox.Backlog(target, done, last_failure_id(store), failures_after(store, done), parked)


def document(row: FailureIndexRow) -> tuple[str, dict[str, Any]]:
    f = row.report
    uid = hashlib.sha256(row.identity.encode()).hexdigest()
    arrival = iso(f.arrival_ts)
    results = {m: r for m, r in reversed(f.auth_results) if m in ("dmarc", "dkim", "spf")}  # the first of each
    return uid, _compact(**{
        "@timestamp": arrival,
        "ecs": {"version": ECS_VERSION},
        "event": _compact(ingested=row.ingested_at or None, kind="event", category=["email"],
                          type=["info"], outcome="failure", dataset="dmarc.failure", module="dmarc"),
        "source": {"ip": f.source_ip},
        "related": _compact(ip=[f.source_ip], hosts=sorted({h for h in (f.reported_domain, f.dkim_domain, f.spf_domain) if h})),
        "email": _compact(**{"from": _compact(address=_addresses(f.header_from)),
                             "to": _compact(address=_addresses(f.header_to))},
                          subject=f.subject, message_id=f.message_id, delivery_timestamp=arrival),
        "dmarc": {"failure": _compact(
            uid=uid, reported_domain=f.reported_domain, reporter=f.reporter, feedback_type=f.feedback_type,
            auth_failure=list(f.auth_failure),
            # RFC 9991's "none" stays searchable: an empty list would read as an absent field
            identity_alignment=(list(f.identity_alignment) or ["none"]) if f.identity_alignment is not None else None,
            delivery_result=f.delivery_result, authentication_results=f.authentication_results,
            dkim_domain=f.dkim_domain, dkim_selector=f.dkim_selector, spf_domain=f.spf_domain,
            original_envelope_id=f.original_envelope_id, original_mail_from=f.original_mail_from,
            original_rcpt_to=f.original_rcpt_to, user_agent=f.user_agent, reporting_mta=f.reporting_mta,
            submitter=f.submitter, incidents=f.incidents, body_omitted=f.body_omitted, warnings=list(f.warnings),
            auth_results=_compact(**results),
        )},
    })


def _addresses(header: str | None) -> list[str] | None:
    if not header:
        return None
    found = [addr for _, addr in email.utils.getaddresses([header]) if addr]
    return found or None


def _compact(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v not in ([], {})}
