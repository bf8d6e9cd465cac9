"""Report emails in a real IMAP mailbox (Dovecot), fetched and stored by ``dmarcflow fetch``.

The same messages are also put in a second folder for parsedmarc's
``get_dmarc_reports_from_mailbox`` (offline), which fetches and parses them but
stores nothing: its figure is a lower bound of what storing would cost it.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from typing import Any

from benchmarks.figures import Figure, Target, not_available
from benchmarks.inputs import report_emails
from benchmarks.measure import run_measured, run_stage
from benchmarks.run import Run, log

TARGET_SECONDS = Target("<=", 30, issue="earlier")
PARSEDMARC_FOLDER = "ForParsedmarc"


def child_parsedmarc(params: dict[str, Any]) -> dict[str, Any]:
    from parsedmarc import get_dmarc_reports_from_mailbox
    from parsedmarc.mail import IMAPConnection

    started = time.perf_counter()
    connection = IMAPConnection(params["host"], params["user"], params["password"], port=params["port"],
                                ssl=False, starttls=False)
    results = get_dmarc_reports_from_mailbox(connection, reports_folder=PARSEDMARC_FOLDER,
                                             archive_folder="ArchiveParsedmarc", offline=True,
                                             batch_size=0)  # 0: every message, not just the first 10
    seconds = time.perf_counter() - started
    reports = results["aggregate_reports"]
    return {"reports": len(reports), "records": sum(len(r["records"]) for r in reports), "seconds": seconds}


def _fill(server: Any, emails: list[bytes]) -> None:
    with server.connect("plain") as client:
        for folder in ("INBOX", PARSEDMARC_FOLDER):
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in emails:
                client.append(folder, raw)


def _fetch(run: Run, server: Any) -> tuple[Any, int]:
    password_file = run.workdir / "imap-password"
    password_file.write_text(server.password)
    db = run.workdir / "imap.db"
    db.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "dmarcflow", "--db", str(db), "fetch", "--host", server.host,
            "--port", str(server.port), "--user", server.user, "--password-file", str(password_file),
            "--tls", "none", "--offline", "--format", "json"]
    measured = run_measured(argv, timeout=1800)
    if measured.returncode != 0:
        raise RuntimeError(f"dmarcflow fetch failed (exit {measured.returncode}): {measured.stderr[-2000:]}")
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
    return measured, stored


def measure(run: Run) -> list[Figure]:
    from tests.support.dovecot import DovecotServer

    n = run.sizes.imap_emails
    emails = list(report_emails(n, run.sizes.imap_records_per_report, run.seed))
    with DovecotServer() as server:
        log(f"appending {n:,} report emails to Dovecot (twice: one folder per tool)")
        _fill(server, emails)
        measured, stored = _fetch(run, server)
        archived = server.folder_counts().get("Archive", 0)
        try:
            theirs, _ = run_stage("imap-parsedmarc", {"host": server.host, "port": server.port,
                                                      "user": server.user, "password": server.password})
        except Exception as exc:  # parsedmarc's side is a comparison, not the figure itself
            theirs = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    run.record("imap", {"emails": n, "stored_reports": stored, "archived": archived,
                        "seconds": measured.seconds, "peak_rss_mb": measured.peak_rss_mb, "parsedmarc": theirs})
    if stored != n or archived != n:
        return [not_available("imap", f"{n:,} report emails fetched and stored", "s", TARGET_SECONDS,
                              f"stored {stored}, archived {archived} of {n}")]
    their_seconds = theirs.get("seconds") if theirs.get("reports") == n else None
    return [Figure(
        "imap_seconds", f"{n:,} report emails in IMAP, fetched and stored", "s", measured.seconds, their_seconds,
        their_seconds / measured.seconds if their_seconds else None, TARGET_SECONDS,
        note=("whole dmarcflow fetch command, start-up included; parsedmarc fetches and parses only"
              if their_seconds else f"parsedmarc: {theirs.get('error') or theirs}"),
        peer="parsedmarc get_dmarc_reports_from_mailbox, same messages", ratio_is="peer time / ours",
    )]
