"""IMAP round trips in batches (issue 16): one FETCH for the whole batch, one MOVE per destination after each commit.

Real Dovecot, a real SQLite file, ``fetch.run_pass`` in-process. The Mailbox subclass only records the
commands the real session sends (and what the store had committed at that moment, seen from a second
connection); the commands themselves go to the server. The failed commit is SQLite's own (a deferred
foreign-key violation found at COMMIT), not a mock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from dmarcflow.config import EnrichmentSettings, Limits, MailboxSettings
from dmarcflow.enrich import Enricher
from dmarcflow.errors import StoreError
from dmarcflow.fetch import input_name, run_pass
from dmarcflow.ingest import GROUP_RECORDS, Ingestor, InputOutcome
from dmarcflow.mailbox import Mailbox, Message
from dmarcflow.store import Store
from tests.support.dovecot import DovecotServer
from tests.support.hostile import mail
from tests.support.imap_mail import Folders, mailbox_table, report_mails

RECORDS = GROUP_RECORDS // 5  # per report: a commit every GROUP_RECORDS // RECORDS (5) reports
POISON = mail([("broken.xml", "text/xml", b"<?xml version='1.0'?><feedback><report_metadata>")])


class RecordingMailbox(Mailbox):
    """The real session, with a log of its FETCH and MOVE commands."""

    db: Path
    log: list[tuple[str, list[int], str, set[int]]]

    def fetch(self, uids: Sequence[int]) -> list[Message]:
        self.log.append(("FETCH", list(uids), "", self._committed()))
        return super().fetch(uids)

    def move(self, uids: Sequence[int], folder: str) -> None:
        self.log.append(("MOVE", list(uids), folder, self._committed()))
        super().move(uids, folder)

    def _committed(self) -> set[int]:
        with sqlite3.connect(self.db) as conn:  # another connection: it sees only what is committed
            names = {row[0] for row in conn.execute("SELECT source FROM reports")} | {
                row[0] for row in conn.execute("SELECT input FROM rejected")}
        return {int(name.rsplit("/", 1)[1]) for name in names}


class FailingCommitIngestor(Ingestor):
    """Ingests as usual; after the input named ``fail_after`` it adds a row SQLite refuses at COMMIT."""

    fail_after = ""

    def ingest_bytes(self, name: str, data: bytes) -> InputOutcome:
        outcome = super().ingest_bytes(name, data)
        if name == self.fail_after:
            with self.store.transaction() as conn:
                conn.execute("PRAGMA defer_foreign_keys = ON")
                conn.execute("INSERT INTO report_warnings (report, code) VALUES (999999, 'x')")
        return outcome


def _fill(server: DovecotServer, folders: Folders, count: int, poison_at: int) -> None:
    for index, report in enumerate(report_mails(count, seed=61, records=RECORDS)):
        server.append(folders.inbox, POISON if index == poison_at else report.raw)


def _run(server: DovecotServer, folders: Folders, db: Path, fail_at: int | None) -> tuple[RecordingMailbox, object]:
    box = MailboxSettings(**mailbox_table(server, **folders.table()))  # type: ignore[arg-type]
    enricher = Enricher(EnrichmentSettings(offline=True))
    try:
        with Store.open(db) as store, RecordingMailbox.connect(box) as mailbox:
            assert isinstance(mailbox, RecordingMailbox)
            mailbox.db, mailbox.log = db, []
            ingestor = FailingCommitIngestor(store, enricher, Limits())
            uids = mailbox_uids(server, folders)
            if fail_at is not None:
                ingestor.fail_after = input_name(box, uids[fail_at])
            try:
                return mailbox, run_pass(mailbox, ingestor)
            except StoreError as exc:
                return mailbox, exc
    finally:
        enricher.close()


def mailbox_uids(server: DovecotServer, folders: Folders) -> list[int]:
    with server.connect() as client:
        client.select_folder(folders.inbox, readonly=True)
        return sorted(client.search(["ALL"]))


def test_one_fetch_for_the_batch_and_a_move_per_destination_after_each_commit(
        shared_dovecot: DovecotServer, folders: Folders, tmp_path: Path) -> None:
    per_commit = GROUP_RECORDS // RECORDS
    _fill(shared_dovecot, folders, 12, poison_at=2)  # the poison adds no records: the first commit holds 6 mails
    uids = mailbox_uids(shared_dovecot, folders)
    mailbox, result = _run(shared_dovecot, folders, tmp_path / "store.sqlite", fail_at=None)
    assert not isinstance(result, Exception)
    first = uids[: per_commit + 1]
    second = uids[per_commit + 1 : 2 * per_commit + 1]
    rest = uids[2 * per_commit + 1 :]
    assert [(cmd, got, folder) for cmd, got, folder, _ in mailbox.log] == [
        ("FETCH", uids, ""),
        ("MOVE", [u for u in first if u != uids[2]], folders.archive),
        ("MOVE", [uids[2]], folders.invalid),
        ("MOVE", second, folders.archive),
        ("MOVE", rest, folders.archive),
    ]
    committed_at_move = [committed for cmd, _, _, committed in mailbox.log if cmd == "MOVE"]
    assert committed_at_move == [set(first), set(first), set(first + second), set(uids)]  # never ahead of its commit
    assert folders.counts(shared_dovecot) == {"INBOX": 0, "Archive": 11, "Invalid": 1}


def test_a_failed_commit_leaves_its_mails_in_the_folder(shared_dovecot: DovecotServer, folders: Folders,
                                                        tmp_path: Path) -> None:
    _fill(shared_dovecot, folders, 12, poison_at=2)
    uids = mailbox_uids(shared_dovecot, folders)
    mailbox, result = _run(shared_dovecot, folders, tmp_path / "store.sqlite", fail_at=8)  # in the second commit
    assert isinstance(result, StoreError)
    assert "FOREIGN KEY constraint failed" in str(result)
    first = uids[:6]
    assert [(cmd, got, folder) for cmd, got, folder, _ in mailbox.log] == [
        ("FETCH", uids, ""),
        ("MOVE", [u for u in first if u != uids[2]], folders.archive),
        ("MOVE", [uids[2]], folders.invalid),
    ]
    assert folders.counts(shared_dovecot) == {"INBOX": 6, "Archive": 5, "Invalid": 1}
    assert mailbox_uids(shared_dovecot, folders) == uids[6:]


@pytest.mark.parametrize("batch_size", [1, 5])
def test_smaller_batches_fetch_in_as_many_commands(shared_dovecot: DovecotServer, folders: Folders, tmp_path: Path,
                                                   batch_size: int) -> None:
    _fill(shared_dovecot, folders, 6, poison_at=0)
    uids = mailbox_uids(shared_dovecot, folders)
    box = MailboxSettings(**mailbox_table(shared_dovecot, batch_size=batch_size, **folders.table()))  # type: ignore[arg-type]
    enricher = Enricher(EnrichmentSettings(offline=True))
    try:
        with Store.open(tmp_path / "s.sqlite") as store, RecordingMailbox.connect(box) as mailbox:
            assert isinstance(mailbox, RecordingMailbox)
            mailbox.db, mailbox.log = tmp_path / "s.sqlite", []
            run_pass(mailbox, Ingestor(store, enricher, Limits()))
    finally:
        enricher.close()
    fetches = [got for cmd, got, _, _ in mailbox.log if cmd == "FETCH"]
    assert fetches == [uids[i : i + batch_size] for i in range(0, 6, batch_size)]
    assert folders.counts(shared_dovecot) == {"INBOX": 0, "Archive": 5, "Invalid": 1}
