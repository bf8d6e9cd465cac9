"""Group commits on the IMAP path (issue 16): a mail is filed, and reported, only after the commit that holds
its report, and the rejected mail among them is filed as invalid. Real Dovecot, a real SQLite file, ``fetch.run_pass`` in-process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dmarcflow.config import EnrichmentSettings, Limits, MailboxSettings
from dmarcflow.enrich import Enricher
from dmarcflow.fetch import Filed, input_name, run_pass
from dmarcflow.ingest import Ingestor
from dmarcflow.mailbox import Mailbox
from dmarcflow.store import Store
from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import Folders, mailbox_table, plain_mail, report_mails

MAILS = 8


def _committed_sources(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:  # another connection: it sees only what is committed
        return {row[0] for row in conn.execute("SELECT source FROM reports")} | {
            row[0] for row in conn.execute("SELECT input FROM rejected")}


def test_each_mail_is_filed_after_the_commit_of_its_report(shared_dovecot: DovecotServer, folders: Folders,
                                                           tmp_path: Path) -> None:
    mails = report_mails(MAILS, seed=47)
    for mail in mails[:4]:
        shared_dovecot.append(folders.inbox, mail.raw)
    shared_dovecot.append(folders.inbox, plain_mail("not a report"))
    for mail in mails[4:]:
        shared_dovecot.append(folders.inbox, mail.raw)
    box = MailboxSettings(**mailbox_table(shared_dovecot, **folders.table()))  # type: ignore[arg-type]
    db = tmp_path / "store.sqlite"
    seen: list[tuple[int, str, str, bool, dict[str, int]]] = []
    filed_so_far: list[int] = []

    def on_filed(item: Filed) -> None:
        filed_so_far.append(item.uid)
        counts = folders.counts(shared_dovecot)
        name = input_name(box, item.uid)
        seen.append((item.uid, item.outcome.status, item.destination, name in _committed_sources(db),
                     {"INBOX": counts["INBOX"], "filed": counts["Archive"] + counts["Invalid"]}))

    enricher = Enricher(EnrichmentSettings(offline=True))
    try:
        with Store.open(db) as store, Mailbox.connect(box) as mailbox:
            result = run_pass(mailbox, Ingestor(store, enricher, Limits()), on_filed=on_filed)
    finally:
        enricher.close()
    assert len(result.filed) == MAILS + 1
    statuses = [s[1] for s in seen]
    assert statuses == ["ingested"] * 4 + ["rejected"] + ["ingested"] * 4
    assert [s[2] for s in seen] == [folders.archive] * 4 + [folders.invalid] + [folders.archive] * 4
    assert [s[3] for s in seen] == [True] * (MAILS + 1)  # committed before it was reported
    assert [s[4] for s in seen] == [{"INBOX": 0, "filed": MAILS + 1}] * (MAILS + 1)  # moved before reported
    assert folders.counts(shared_dovecot) == {"INBOX": 0, "Archive": MAILS, "Invalid": 1}
