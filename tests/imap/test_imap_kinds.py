"""A real Dovecot mailbox holding aggregate, SMTP TLS and failure report mails, fetched once.

Every report is stored once, every mail is archived (into the kind's own folder when one is
configured), the TLS summary's totals equal the reports' session counts, and `failures` lists every
failure report once without any body.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.kinds.test_failure_parse import BODY_TEXTS
from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import Folders, expected, mailbox_table, plain_mail, report_mails, stored_identities, write_config
from tests.support.kind_samples import FAILURE_DIR, TLS_DIR

TLS_MAILS = sorted(p for p in TLS_DIR.iterdir() if p.suffix == ".eml")
FAILURE_MAILS = sorted(FAILURE_DIR.iterdir())


@pytest.fixture
def server(shared_dovecot: DovecotServer) -> DovecotServer:
    return shared_dovecot


def _fill(server: DovecotServer, folders: Folders):
    aggregate = report_mails(3, seed=21)
    mails = [m.raw for m in aggregate] + [p.read_bytes() for p in TLS_MAILS + FAILURE_MAILS] + [plain_mail("hello")]
    for raw in mails:
        server.append(folders.inbox, raw)
    return aggregate


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_every_kind_stored_once_and_archived(server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli) -> None:
    aggregate = _fill(server, folders)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(server, **folders.table())])

    result = cli("--config", config, "fetch", "--format", "json")

    assert result.exit_code == 1  # the plain mail is not a report
    outcomes = json.loads(result.stdout)
    assert [(o["kind"], o["status"]) for o in outcomes] == (
        [("aggregate", "ingested")] * 3 + [("tls", "ingested")] * len(TLS_MAILS)
        + [("failure", "ingested")] * len(FAILURE_MAILS) + [(None, "rejected")])
    assert stored_identities(db) == expected(aggregate)
    assert _rows(db, "SELECT count(*), count(DISTINCT org_name || report_id) FROM tls_reports") == [(4, 4)]
    assert _rows(db, "SELECT count(*), count(DISTINCT identity) FROM failure_reports") == [(4, 4)]
    assert folders.counts(server) == {"INBOX": 0, "Archive": 3 + len(TLS_MAILS) + len(FAILURE_MAILS), "Invalid": 1}

    again = cli("--config", config, "fetch", "--format", "json")
    assert (again.exit_code, json.loads(again.stdout)) == (0, [])

    summary = json.loads(cli("--db", db, "tls", "summary", "--format", "json").stdout)
    stored = _rows(db, "SELECT p.policy_domain, sum(p.successful), sum(p.failed) FROM tls_policies p "
                       "JOIN tls_reports r ON r.id = p.report GROUP BY p.policy_domain ORDER BY 1")
    assert [(d["domain"], d["successful"], d["failed"]) for d in summary["domains"]] == stored == [
        ("example.com", 1605, 17), ("example.org", 5101, 14)]

    failures = cli("--db", db, "failures", "--format", "json")
    listed = json.loads(failures.stdout)["failures"]
    assert sorted(f["source_ip"] for f in listed) == ["198.51.100.23", "2001:db8::66", "203.0.113.66", "203.0.113.99"]
    assert [t for t in BODY_TEXTS if t in failures.stdout] == []
    dump = b"".join(bytes(str(r), "utf-8") for r in _rows(db, "SELECT * FROM failure_reports"))
    assert [t for t in BODY_TEXTS if t.encode() in dump] == []


def test_kinds_go_to_their_own_archive_folders(server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli) -> None:
    _fill(server, folders)
    box = mailbox_table(server, **folders.table(), tls_archive_folder=f"{folders.prefix}/TLS",
                        failure_archive_folder=f"{folders.prefix}/Failures")
    config = write_config(tmp_path / "c.toml", db, [box])
    assert cli("--config", config, "fetch").exit_code == 1
    assert folders.counts(server) == {"INBOX": 0, "Archive": 3, "TLS": len(TLS_MAILS), "Failures": len(FAILURE_MAILS),
                                      "Invalid": 1}
