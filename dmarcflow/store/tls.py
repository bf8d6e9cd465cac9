"""SMTP TLS reports in the store: write one report with its policies and failure details, read them back.

Writes run inside ``Store.transaction()`` (the write lock is held before the identity is looked up,
so two processes storing the same report cannot both insert it). Every SQL statement about TLS
reports is here.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dmarcflow.kinds.tls import content_hash
from dmarcflow.models import TlsFailureDetail, TlsReport
from dmarcflow.store.sqlite import Store
from dmarcflow.utc import now_iso


@dataclass(frozen=True)
class StoredTls:
    """What storing one TLS report amounted to."""

    status: str  # ingested | duplicate | conflict
    report_pk: int | None
    policies: int
    sessions: int  # successful + failed, over all policies


@dataclass(frozen=True)
class TlsReportRow:
    id: int
    org_name: str
    report_id: str
    begin_ts: int
    end_ts: int
    policy_domains: tuple[str, ...]
    policies: int
    successful: int
    failed: int
    status: str
    conflict_of: int | None
    source: str | None
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class TlsPolicyRow:
    """One policy of an active report in a window, with its report's facts (what summaries group)."""

    report: int
    org_name: str
    begin_ts: int
    end_ts: int
    policy_type: str
    policy_domain: str
    successful: int
    failed: int


@dataclass(frozen=True)
class TlsFailureRow:
    policy_domain: str
    policy_type: str
    org_name: str
    result_type: str
    receiving_mx_hostname: str | None
    sending_mta_ip: str | None
    receiving_ip: str | None
    failure_reason_code: str | None
    failed_sessions: int


@dataclass(frozen=True)
class TlsDayRow:
    """Sessions of one policy domain's active reports beginning on one UTC day (days since 1970-01-01)."""

    day: int
    successful: int
    failed: int


_ACTIVE_IN_WINDOW = "r.status = 'active' AND r.begin_ts >= ? AND r.begin_ts < ?"


class TlsReports:
    """The TLS tables of one store."""

    def __init__(self, store: Store) -> None:
        self._conn: sqlite3.Connection = store.conn

    def save(self, report: TlsReport, *, source: str, raw: bytes, warnings: tuple[str, ...] | None = None) -> StoredTls:
        """Store the report unless it is a duplicate; call inside ``Store.transaction()``.

        ``warnings``: every quirk read on the way (the containers' too); the report's own by default.
        """
        digest = content_hash(report)
        known = self._conn.execute(
            "SELECT id, content_hash FROM tls_reports WHERE org_name = ? AND report_id = ? ORDER BY id", report.identity
        ).fetchall()
        sessions = report.successful + report.failed
        if any(row[1] == digest for row in known):
            return StoredTls("duplicate", None, len(report.policies), sessions)
        conflict_of = int(known[0][0]) if known else None
        pk = self._insert(report, digest, conflict_of, source, raw, report.warnings if warnings is None else warnings)
        return StoredTls("conflict" if known else "ingested", pk, len(report.policies), sessions)

    def _insert(self, report: TlsReport, digest: str, conflict_of: int | None, source: str, raw: bytes,
                warnings: tuple[str, ...]) -> int:
        cur = self._conn.execute(
            "INSERT INTO tls_reports (org_name, report_id, begin_ts, end_ts, contact_info, report_domain, submitter, "
            "successful, failed, content_hash, warnings, status, conflict_of, source, ingested_at, raw_json) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                report.org_name, report.report_id, int(report.begin.timestamp()), int(report.end.timestamp()),
                report.contact_info, report.report_domain, report.submitter, report.successful, report.failed,
                digest, json.dumps(list(warnings)), "conflict" if conflict_of else "active", conflict_of,
                source, now_iso(), zlib.compress(raw, 6),
            ),
        )
        pk = int(cur.lastrowid or 0)
        self._insert_policies(pk, report)
        return pk

    def _insert_policies(self, pk: int, report: TlsReport) -> None:
        for position, policy in enumerate(report.policies):
            cur = self._conn.execute(
                "INSERT INTO tls_policies (report, position, policy_type, policy_domain, policy_strings, mx_hosts, "
                "successful, failed) VALUES (?,?,?,?,?,?,?,?)",
                (pk, position, policy.policy_type, policy.policy_domain, json.dumps(list(policy.policy_strings)),
                 json.dumps(list(policy.mx_hosts)), policy.successful, policy.failed),
            )
            policy_pk = int(cur.lastrowid or 0)
            self._conn.executemany(
                "INSERT INTO tls_failures (policy, position, result_type, sending_mta_ip, receiving_mx_hostname, "
                "receiving_mx_helo, receiving_ip, failed_sessions, failure_reason_code, additional_information) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (policy_pk, i, d.result_type, d.sending_mta_ip, d.receiving_mx_hostname, d.receiving_mx_helo,
                     d.receiving_ip, d.failed_sessions, d.failure_reason_code, d.additional_information)
                    for i, d in enumerate(policy.failures)
                ],
            )

    def replace(self, pk: int, report: TlsReport) -> None:
        """Rewrite a stored report's policies from a new parse of its raw JSON (reprocess)."""
        self._conn.execute("DELETE FROM tls_policies WHERE report = ?", (pk,))
        self._conn.execute(
            "UPDATE tls_reports SET begin_ts=?, end_ts=?, contact_info=?, successful=?, failed=?, warnings=? WHERE id=?",
            (int(report.begin.timestamp()), int(report.end.timestamp()), report.contact_info, report.successful,
             report.failed, json.dumps(list(report.warnings)), pk),
        )
        self._insert_policies(pk, report)

    def raw_reports(self) -> Iterator[tuple[int, str | None, str | None, bytes | None]]:
        """(id, report_domain, submitter, raw JSON) of every report, in id order."""
        for pk, domain, submitter, blob in self._conn.execute(
            "SELECT id, report_domain, submitter, raw_json FROM tls_reports ORDER BY id"
        ).fetchall():
            yield int(pk), domain, submitter, zlib.decompress(blob) if blob is not None else None

    def reports(self, domain: str | None = None) -> list[TlsReportRow]:
        """Every stored report (conflicting versions included), oldest first; optionally those covering a domain."""
        where: str = ""
        args: tuple[str, ...] = ()
        if domain:
            where, args = "WHERE r.id IN (SELECT report FROM tls_policies WHERE policy_domain = ?)", (domain,)
        rows = self._conn.execute(
            "SELECT r.id, r.org_name, r.report_id, r.begin_ts, r.end_ts, "
            "(SELECT json_group_array(d) FROM "
            "(SELECT DISTINCT policy_domain AS d FROM tls_policies WHERE report = r.id ORDER BY d)), "
            "(SELECT count(*) FROM tls_policies WHERE report = r.id), r.successful, r.failed, r.status, r.conflict_of, "
            f"r.source, r.warnings FROM tls_reports r {where} ORDER BY r.begin_ts, r.id",
            args,
        ).fetchall()
        return [
            TlsReportRow(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6], r[7], r[8], r[9], r[10], r[11],
                         tuple(json.loads(r[12])))
            for r in rows
        ]

    def domains(self, begin_ts: int, end_ts: int) -> list[str]:
        rows = self._conn.execute(
            f"SELECT DISTINCT p.policy_domain FROM tls_policies p JOIN tls_reports r ON r.id = p.report "
            f"WHERE {_ACTIVE_IN_WINDOW} ORDER BY p.policy_domain",
            (begin_ts, end_ts),
        )
        return [row[0] for row in rows]

    def policy_rows(self, domains: Sequence[str], begin_ts: int, end_ts: int) -> list[TlsPolicyRow]:
        """Policies of active reports beginning in [begin_ts, end_ts), for these policy domains."""
        rows = self._conn.execute(
            "SELECT p.report, r.org_name, r.begin_ts, r.end_ts, p.policy_type, p.policy_domain, p.successful, p.failed "
            f"FROM tls_policies p JOIN tls_reports r ON r.id = p.report "
            f"WHERE {_ACTIVE_IN_WINDOW} AND p.policy_domain IN (SELECT value FROM json_each(?)) ORDER BY p.id",
            (begin_ts, end_ts, json.dumps(list(domains))),
        )
        return [TlsPolicyRow(*row) for row in rows]

    def failure_rows(self, domains: Sequence[str], begin_ts: int, end_ts: int) -> list[TlsFailureRow]:
        rows = self._conn.execute(
            "SELECT p.policy_domain, p.policy_type, r.org_name, f.result_type, f.receiving_mx_hostname, f.sending_mta_ip, "
            "f.receiving_ip, f.failure_reason_code, f.failed_sessions FROM tls_failures f "
            "JOIN tls_policies p ON p.id = f.policy JOIN tls_reports r ON r.id = p.report "
            f"WHERE {_ACTIVE_IN_WINDOW} AND p.policy_domain IN (SELECT value FROM json_each(?)) ORDER BY f.id",
            (begin_ts, end_ts, json.dumps(list(domains))),
        )
        return [TlsFailureRow(*row) for row in rows]

    def day_rows(self, domain: str, begin_ts: int, end_ts: int) -> list[TlsDayRow]:
        """Per UTC day (of the report's begin, as summaries count it): the domain's sessions, in day order."""
        rows = self._conn.execute(
            "SELECT r.begin_ts / 86400 AS day, sum(p.successful), sum(p.failed) FROM tls_policies p "
            f"JOIN tls_reports r ON r.id = p.report WHERE {_ACTIVE_IN_WINDOW} AND p.policy_domain = ? "
            "GROUP BY day ORDER BY day",
            (begin_ts, end_ts, domain),
        )
        return [TlsDayRow(int(d), int(s), int(f)) for d, s, f in rows]

    def every_domain_days(self, begin_ts: int, end_ts: int) -> dict[str, list[TlsDayRow]]:
        """``day_rows`` of every policy domain at once (for the overview's sparklines)."""
        out: dict[str, list[TlsDayRow]] = {}
        for domain, day, ok, failed in self._conn.execute(
            "SELECT p.policy_domain, r.begin_ts / 86400 AS day, sum(p.successful), sum(p.failed) FROM tls_policies p "
            f"JOIN tls_reports r ON r.id = p.report WHERE {_ACTIVE_IN_WINDOW} GROUP BY p.policy_domain, day "
            "ORDER BY p.policy_domain, day",
            (begin_ts, end_ts),
        ):
            out.setdefault(str(domain), []).append(TlsDayRow(int(day), int(ok), int(failed)))
        return out


@dataclass(frozen=True)
class TlsIndexRow:
    """One stored policy with its report and failure details: what its search documents are built from."""

    policy_id: int
    position: int
    policy_type: str
    policy_domain: str
    policy_strings: tuple[str, ...]
    mx_hosts: tuple[str, ...]
    successful: int
    failed: int
    org_name: str
    report_id: str
    begin_ts: int
    end_ts: int
    contact_info: str | None
    content_hash: str
    status: str
    ingested_at: str
    failures: tuple[TlsFailureDetail, ...]


def tls_index_rows(store: Store, after: int, limit: int) -> list[TlsIndexRow]:
    """Up to ``limit`` policies with an id above ``after``, in id order (the TLS outbox reads these)."""
    conn = store.conn
    rows = conn.execute(
        "SELECT p.id, p.position, p.policy_type, p.policy_domain, p.policy_strings, p.mx_hosts, p.successful, p.failed, "
        "r.org_name, r.report_id, r.begin_ts, r.end_ts, r.contact_info, r.content_hash, r.status, r.ingested_at "
        "FROM tls_policies p JOIN tls_reports r ON r.id = p.report WHERE p.id > ? ORDER BY p.id LIMIT ?",
        (after, limit),
    ).fetchall()
    details: dict[int, list[TlsFailureDetail]] = {}
    ids = json.dumps([r[0] for r in rows])
    for f in conn.execute(
        "SELECT policy, result_type, failed_sessions, sending_mta_ip, receiving_mx_hostname, receiving_mx_helo, "
        "receiving_ip, failure_reason_code, additional_information FROM tls_failures "
        "WHERE policy IN (SELECT value FROM json_each(?)) ORDER BY policy, position",
        (ids,),
    ):
        details.setdefault(f[0], []).append(TlsFailureDetail(*f[1:]))
    return [
        TlsIndexRow(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), tuple(json.loads(r[5])), r[6], r[7], r[8], r[9],
                    r[10], r[11], r[12], r[13], r[14], r[15], tuple(details.get(r[0], ())))
        for r in rows
    ]


def last_policy_id(store: Store) -> int:
    return int(store.conn.execute("SELECT coalesce(max(id), 0) FROM tls_policies").fetchone()[0])


def policies_after(store: Store, after: int) -> int:
    """How many policies have an id above ``after`` (the TLS outbox's backlog)."""
    return int(store.conn.execute("SELECT count(*) FROM tls_policies WHERE id > ?", (after,)).fetchone()[0])


def tls_index_rows_by_id(store: Store, ids: list[int]) -> list[TlsIndexRow]:
    """The policies with these ids (parked ones, retried), in id order; ids no longer stored are left out."""
    wanted = set(ids)
    out: list[TlsIndexRow] = []
    for start in sorted(wanted):
        out += [r for r in tls_index_rows(store, start - 1, 1) if r.policy_id in wanted]
    return out
