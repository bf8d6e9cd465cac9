"""``fetch --jobs`` (issue 16): worker processes parse the mails, this process stores and files them. The
outcomes, the folders and the store must be exactly those of one process; a stop leaves the rest for the
next pass. Real Dovecot, real SQLite files, ``fetch.run_pass`` in-process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from dmarcflow.config import EnrichmentSettings, Limits, MailboxSettings
from dmarcflow.enrich import Enricher
from dmarcflow.fetch import PassResult, run_pass
from dmarcflow.ingest import Ingestor
from dmarcflow.mailbox import Mailbox
from dmarcflow.store import Store
from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import (
    Folders,
    broken_gzip_mail,
    expected,
    mail_with_attachment,
    mailbox_table,
    plain_mail,
    report_mails,
    stored_identities,
)

REPORTS = 40
KNOWN = broken_gzip_mail()  # rejected by an earlier pass that crashed before filing it


def _mails() -> list[bytes]:
    reports = [mail.raw for mail in report_mails(REPORTS, seed=83)]
    hostile = [plain_mail("not a report"), KNOWN,
               mail_with_attachment("Report Domain: example.com", b"<feedback><record>", "r.xml", "text/xml"),
               reports[3]]  # the same report again: a duplicate
    return reports[:10] + hostile + reports[10:]


def _store_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(db) as conn:
        return {
            "reports": conn.execute("SELECT org_name, report_id, records_hash, record_count, message_count, status "
                                    "FROM reports ORDER BY org_name, report_id").fetchall(),
            "rejected": conn.execute("SELECT reason, sha256 FROM rejected ORDER BY reason, sha256").fetchall(),
            "rollup": conn.execute("SELECT * FROM daily_sources ORDER BY 1, 2, 3, 4").fetchall(),
        }


def _pass(server: DovecotServer, folders: Folders, db: Path, jobs: int, stop_after: int | None = None) -> PassResult:
    box = MailboxSettings(**mailbox_table(server, **folders.table()))  # type: ignore[arg-type]
    calls = [0]

    def should_stop() -> bool:
        calls[0] += 1
        return stop_after is not None and calls[0] > stop_after

    enricher = Enricher(EnrichmentSettings(offline=True))
    try:
        with Store.open(db) as store, Mailbox.connect(box) as mailbox:
            ingestor = Ingestor(store, enricher, Limits())
            if not db.with_name(db.name + ".seeded").exists():
                with store.group() as group:  # the earlier pass: KNOWN's rejection is kept, its mail not filed
                    ingestor.ingest_bytes("imap://earlier", KNOWN)
                    group.commit()
                db.with_name(db.name + ".seeded").touch()
            return run_pass(mailbox, ingestor, should_stop, jobs=jobs)
    finally:
        enricher.close()


def _seen(result: PassResult, folders: Folders) -> list[tuple[Any, ...]]:
    short = {folders.archive: "Archive", folders.invalid: "Invalid"}
    return [(f.outcome.status, f.outcome.reason, f.outcome.message, f.outcome.reports, f.outcome.records,
             f.outcome.messages, f.outcome.kind, short[f.destination]) for f in result.filed]


def test_workers_give_the_outcomes_folders_and_store_of_one_process(shared_dovecot: DovecotServer, folders: Folders,
                                                                    tmp_path: Path) -> None:
    one, two = Folders(folders.prefix + "one"), Folders(folders.prefix + "two")
    for mail in _mails():
        shared_dovecot.append(one.inbox, mail)
        shared_dovecot.append(two.inbox, mail)
    alone = _pass(shared_dovecot, one, tmp_path / "one.sqlite", jobs=1)
    parallel = _pass(shared_dovecot, two, tmp_path / "two.sqlite", jobs=2)
    assert _seen(parallel, two) == _seen(alone, one)
    statuses = [s[0] for s in _seen(parallel, two)]
    assert statuses == ["ingested"] * 10 + ["rejected"] * 3 + ["duplicate"] + ["ingested"] * (REPORTS - 10)
    assert [s[1] for s in _seen(parallel, two)][10:13] == ["not_a_report", "unreadable", "malformed_xml"]
    # the kept rejection's own words: its mail was not read again
    assert _seen(parallel, two)[11][2] == "imap://earlier#r.xml.gz: the gzip stream is truncated"
    assert _store_rows(tmp_path / "two.sqlite") == _store_rows(tmp_path / "one.sqlite")
    assert one.counts(shared_dovecot) == two.counts(shared_dovecot) == {"INBOX": 0, "Archive": REPORTS + 1,
                                                                        "Invalid": 3}


def test_a_stop_with_workers_files_what_was_stored_and_leaves_the_rest(shared_dovecot: DovecotServer,
                                                                     folders: Folders, tmp_path: Path) -> None:
    mails = report_mails(REPORTS, seed=89)
    for mail in mails:
        shared_dovecot.append(folders.inbox, mail.raw)
    db = tmp_path / "store.sqlite"
    first = _pass(shared_dovecot, folders, db, jobs=2, stop_after=15)  # one check per batch, then per mail
    assert (first.stopped, len(first.filed)) == (True, 14)
    assert folders.counts(shared_dovecot) == {"INBOX": REPORTS - 14, "Archive": 14, "Invalid": 0}
    assert len(stored_identities(db)) == 14
    second = _pass(shared_dovecot, folders, db, jobs=2)
    assert (second.stopped, [f.outcome.status for f in second.filed]) == (False, ["ingested"] * (REPORTS - 14))
    assert stored_identities(db) == expected(mails)
    assert folders.counts(shared_dovecot) == {"INBOX": 0, "Archive": REPORTS, "Invalid": 0}
