"""A year of small reports (benchmarks/year.py) backfilled from a folder, an mbox and IMAP.

dmarcflow: the whole command as users run it (``dmarcflow ingest --offline DIR``, ``ingest --offline
FILE.mbox``, ``fetch --tls none --offline`` against a real Dovecot), start-up included, each into a new
store whose totals are checked against the year's manifest. The peer of all three is parsedmarc's
``parse_report_file(path, offline=True)`` over the same files in a process of its own (its parse alone:
it stores nothing), timed the same way, as a whole process. Each repeat runs all four in turn
(interleaved), the best run of each counts.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import Measured, best_of, checked, dmarcflow_argv, run_measured, run_stage
from benchmarks.run import Run, log
from benchmarks.year import Year

TARGET_RATIO = Target(">=", 10, on_ratio=True)
TARGET_RATE = Target(">=", 1_500)
PEER = "parsedmarc parse_report_file(offline=True), same files, whole process"


def child_parsedmarc(params: dict[str, Any]) -> dict[str, Any]:
    import parsedmarc

    files = sorted(Path(params["folder"]).iterdir())
    reports = records = 0
    failures: list[str] = []
    started = time.perf_counter()
    for path in files:
        try:
            result = parsedmarc.parse_report_file(str(path), offline=True)
        except Exception as exc:  # a report parsedmarc cannot read is counted, not fatal: it is data here
            failures.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:80]}")
            continue
        reports += 1
        records += len(result["report"]["records"])
    return {"reports": reports, "records": records, "failed": len(failures), "failures": failures[:3],
            "seconds": time.perf_counter() - started}


def store_totals(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        reports, records, messages = conn.execute(
            "SELECT count(*), coalesce(sum(record_count), 0), coalesce(sum(message_count), 0) FROM reports"
            " WHERE status = 'active'").fetchone()
    return {"reports": reports, "records": records, "messages": messages}


def _expect_all(db: Path, data: Year, what: str) -> dict[str, int]:
    got = store_totals(db)
    want = {"reports": data.reports, "records": data.records, "messages": data.messages}
    if got != want:
        raise RuntimeError(f"{what}: stored {got}, the year holds {want}")
    return got


def _ingest(run: Run, data: Year, source: Path, name: str) -> Measured:
    db = run.workdir / f"backfill-{name}.db"
    db.unlink(missing_ok=True)
    argv = dmarcflow_argv("--db", str(db), "ingest", "--offline", "--format", "json", str(source))
    measured = checked(run_measured(argv, timeout=3600), f"dmarcflow ingest ({name})")
    _expect_all(db, data, f"ingest of the {name}")
    return measured


class _Mailbox:
    """The year's mails in a real Dovecot, put back in INBOX after each fetch (fetch files them away)."""

    def __init__(self, run: Run, data: Year, server: Any) -> None:
        import mailbox

        self.run, self.data, self.server = run, data, server
        box = mailbox.mbox(str(data.mbox), create=False)
        with server.connect("plain") as client:
            for key in box.iterkeys():
                client.append("INBOX", box.get_bytes(key))
        box.close()
        self.password_file = run.workdir / "backfill-imap-password"
        self.password_file.write_text(server.password)

    def fetch(self) -> Measured:
        db = self.run.workdir / "backfill-imap.db"
        db.unlink(missing_ok=True)
        s = self.server
        argv = dmarcflow_argv("--db", str(db), "fetch", "--host", s.host, "--port", str(s.port), "--user", s.user,
                              "--password-file", str(self.password_file), "--tls", "none", "--offline",
                              "--format", "json")
        measured = checked(run_measured(argv, timeout=3600), "dmarcflow fetch")
        _expect_all(db, self.data, "fetch from IMAP")
        archived = s.folder_counts().get("Archive", 0)
        if archived != self.data.reports:
            raise RuntimeError(f"fetch archived {archived} of {self.data.reports} mails")
        self._put_back()
        return measured

    def _put_back(self) -> None:
        with self.server.connect("plain") as client:
            client.select_folder("Archive")
            client.move(client.search(), "INBOX")


def _rates(data: Year, seconds: list[float]) -> dict[str, Any]:
    return {"seconds": min(seconds), "all_seconds": [round(s, 3) for s in seconds],
            "reports_per_s": data.reports / min(seconds)}


def measure(run: Run) -> list[Figure]:
    from tests.support.dovecot import DovecotServer

    data = run.year()
    runs: dict[str, list[float]] = {"folder": [], "parsedmarc": [], "mbox": [], "imap": []}
    theirs: list[dict[str, Any]] = []
    log(f"backfill: {data.reports:,} reports, {data.records:,} records; starting Dovecot and filling INBOX")
    with DovecotServer() as server:
        box = _Mailbox(run, data, server)
        for i in range(run.repeat):
            log(f"backfill: run {i + 1} of {run.repeat} (folder, parsedmarc, mbox, IMAP)")
            runs["folder"].append(_ingest(run, data, data.folder, "folder").seconds)
            metrics, measured = run_stage("backfill-parsedmarc", {"folder": str(data.folder)}, timeout=3600)
            theirs.append({**metrics, "process_seconds": measured.seconds})
            runs["parsedmarc"].append(measured.seconds)
            runs["mbox"].append(_ingest(run, data, data.mbox, "mbox").seconds)
            runs["imap"].append(box.fetch().seconds)
    run.stores["small"] = run.workdir / "backfill-folder.db"
    parsed = best_of(theirs, "process_seconds")
    summary = {name: _rates(data, seconds) for name, seconds in runs.items()}
    run.record("backfill", {"year": data.manifest, **summary, "parsedmarc_runs": parsed})
    peer_rate = parsed["reports"] / parsed["process_seconds"]
    peer_note = (f"parsedmarc read {parsed['reports']:,} of {data.reports:,} reports"
                 + (f" ({parsed['failed']} failed: {parsed['failures'][0]})" if parsed["failed"] else ""))
    return [fig for name, what in (("folder", "ingest --offline DIR"), ("mbox", "ingest --offline FILE.mbox"),
                                   ("imap", "fetch from Dovecot (IMAP)"))
            for fig in _figures(run, data, name, what, summary[name], peer_rate, peer_note)]


def _figures(run: Run, data: Year, name: str, what: str, ours: dict[str, Any], peer_rate: float,
             peer_note: str) -> list[Figure]:
    rate = ours["reports_per_s"]
    label = f"backfill, a year of small reports ({data.reports:,}, {data.records:,} records), {what}"
    note = (f"whole command, start-up included; best of {run.repeat} interleaved runs "
            f"({', '.join(f'{s:.1f}' for s in ours['all_seconds'])} s); {peer_note}")
    return [
        Figure(f"backfill_{name}_vs_parsedmarc", label, "reports/s", rate, peer_rate, rate / peer_rate, TARGET_RATIO,
               note, PEER),
        Figure(f"backfill_{name}_reports_per_s", label + ", absolute", "reports/s", rate, peer_rate, rate / peer_rate,
               TARGET_RATE, f"{ours['seconds']:.1f} s for the year", PEER),
    ]
