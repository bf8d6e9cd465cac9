"""SMTP TLS reports in the search index: an index family of their own, strict mapping, ECS names.

Each stored policy gives one document with its session counts (``tlsrpt.policy``: sessions over
time), and each of its failure details one more (``tlsrpt.failure``: failure types over time, with
``source.ip`` the sending MTA, ``destination.domain``/``destination.ip`` the receiving MX, and
``tls.established: false``). Pure functions over ``TlsIndexRow``; ``_id`` is a hash of the report
identity, its content hash and the positions, so a re-sent document is recognised (409).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dmarcflow.index import outbox
from dmarcflow.index.feed import Document, kind_target
from dmarcflow.index.mapping import BOOLEAN, DATE, KEYWORD, LONG
from dmarcflow.store import Store
from dmarcflow.store.tls import TlsIndexRow, last_policy_id, policies_after, tls_index_rows, tls_index_rows_by_id
from dmarcflow.utc import iso

FAMILY = "tls"
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
            "event": _obj(start=DATE, end=DATE, ingested=DATE, kind=KEYWORD, category=KEYWORD, type=KEYWORD,
                          outcome=KEYWORD, dataset=KEYWORD, module=KEYWORD),
            "source": _obj(ip=IP),
            "destination": _obj(domain=KEYWORD, ip=IP),
            "tls": _obj(established=BOOLEAN),
            "related": _obj(ip=IP, hosts=KEYWORD),
            "tlsrpt": _obj(
                report=_obj(uid=KEYWORD, id=KEYWORD, org_name=KEYWORD, contact_info=KEYWORD, begin=DATE, end=DATE,
                            status=KEYWORD),
                policy=_obj(type=KEYWORD, domain=KEYWORD, strings=KEYWORD, mx_hosts=KEYWORD, position=LONG),
                sessions=_obj(successful=LONG, failed=LONG, total=LONG),
                failure=_obj(result_type=KEYWORD, sessions=LONG, receiving_mx_helo=KEYWORD,
                             failure_reason_code=KEYWORD, additional_information=KEYWORD, position=LONG),
            ),
        },
    }


@dataclass(frozen=True)
class TlsFeed:
    """The TLS outbox: stored policies in id order, each with its failure details."""

    kind: str = "tls"

    def target(self, base: str) -> str:
        return kind_target(base, self.kind)

    def family(self, prefix: str) -> str:
        return f"{prefix}-{FAMILY}"

    def mappings(self) -> dict[str, Any] | None:
        return mappings()

    def for_pass(self) -> TlsFeed:
        return self  # nothing kept between chunks

    def pending(self, store: Store, target: str, after: int, limit: int, now: datetime) -> Sequence[Any]:
        return tls_index_rows(store, after, limit)

    def rows_by_id(self, store: Store, ids: list[int]) -> Sequence[Any]:
        return tls_index_rows_by_id(store, ids)

    def seq(self, row: Any) -> int:
        return int(row.policy_id)

    def begin_ts(self, row: Any) -> int:
        return int(row.begin_ts)

    def documents(self, row: Any, index: str) -> list[Document]:
        return [(doc_id, index, doc) for doc_id, doc in documents(row)]

    def backlog(self, store: Store, target: str) -> outbox.Backlog:
        done = outbox.checkpoint(store, target)
        parked = len(outbox.failures(store, target, 1 << 30))
        return outbox.Backlog(target, done, last_policy_id(store), policies_after(store, done), parked)


def report_uid(row: TlsIndexRow) -> str:
    return hashlib.sha256(f"{row.org_name}\x1f{row.report_id}\x1f{row.content_hash}".encode()).hexdigest()


def documents(row: TlsIndexRow) -> list[tuple[str, dict[str, Any]]]:
    """(_id, document) for the policy and each of its failure details."""
    uid = report_uid(row)
    begin, end = iso(row.begin_ts), iso(row.end_ts)
    report = _compact(uid=uid, id=row.report_id, org_name=row.org_name, contact_info=row.contact_info, begin=begin,
                      end=end, status=row.status)
    policy = _compact(type=row.policy_type, domain=row.policy_domain, strings=list(row.policy_strings),
                      mx_hosts=list(row.mx_hosts), position=row.position)
    base = {"@timestamp": begin, "ecs": {"version": ECS_VERSION}}
    out = [(_id(uid, "policy", row.position), {
        **base,
        "event": _event(begin, end, row.ingested_at, kind="metric", type_="info", dataset="tlsrpt.policy"),
        "related": _compact(hosts=sorted({row.policy_domain, *row.mx_hosts})),
        "tlsrpt": {"report": report, "policy": policy,
                   "sessions": {"successful": row.successful, "failed": row.failed,
                                "total": row.successful + row.failed}},
    })]
    for index, d in enumerate(row.failures):
        hosts = sorted({h for h in (row.policy_domain, d.receiving_mx_hostname, d.receiving_mx_helo) if h})
        out.append((_id(uid, "failure", row.position, index), _compact(
            **base,
            event=_event(begin, end, row.ingested_at, kind="event", type_="connection", dataset="tlsrpt.failure",
                         outcome="failure"),
            source=_compact(ip=d.sending_mta_ip),
            destination=_compact(domain=d.receiving_mx_hostname, ip=d.receiving_ip),
            tls={"established": False},
            related=_compact(ip=sorted({i for i in (d.sending_mta_ip, d.receiving_ip) if i}), hosts=hosts),
            tlsrpt={"report": report, "policy": policy, "failure": _compact(
                result_type=d.result_type, sessions=d.failed_sessions, receiving_mx_helo=d.receiving_mx_helo,
                failure_reason_code=d.failure_reason_code, additional_information=d.additional_information,
                position=index)},
        )))
    return out


def _event(begin: str, end: str, ingested: str, *, kind: str, type_: str, dataset: str,
           outcome: str | None = None) -> dict[str, Any]:
    return _compact(start=begin, end=end, ingested=ingested or None, kind=kind, category=["network"], type=[type_],
                    outcome=outcome, dataset=dataset, module="tlsrpt")


def _id(uid: str, *parts: object) -> str:
    return hashlib.sha256(":".join((uid, *map(str, parts))).encode()).hexdigest()


def _compact(**fields: Any) -> dict[str, Any]:
    """Absent facts are absent fields, not nulls (and empty lists and objects are left out)."""
    return {k: v for k, v in fields.items() if v is not None and v not in ([], {})}
