"""Read-only listings of what the store holds: reports and rejected inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dmarcflow.store import RejectedRow, Store
from dmarcflow.utc import iso

__all__ = ["RejectedRow", "ReportRow", "list_rejected", "list_reports", "rejected_raw"]


@dataclass(frozen=True)
class ReportRow:
    id: int
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

    def as_dict(self) -> dict:
        return asdict(self)


def list_reports(store: Store, domain: str | None = None) -> list[ReportRow]:
    sql = (
        "SELECT id, org_name, report_id, domain, begin_ts, end_ts, schema, record_count, message_count, status, "
        "conflict_of, source FROM reports"
    )
    args: tuple = ()
    if domain:
        sql += " WHERE domain = ?"
        args = (domain.lower().rstrip("."),)
    rows = store.conn.execute(sql + " ORDER BY begin_ts, id", args).fetchall()
    return [ReportRow(r[0], r[1], r[2], r[3], iso(r[4]), iso(r[5]), *r[6:]) for r in rows]


def list_rejected(store: Store) -> list[RejectedRow]:
    return store.rejected_inputs()


def rejected_raw(store: Store, rejected_id: int) -> bytes | None:
    return store.rejected_raw(rejected_id)
