"""Many processes on one store: first open, concurrent ingests, kill -9 then a re-run.

Real processes (fork or the real `dmarcflow` command) on a real SQLite file; nothing is simulated.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from dnslib.server import BaseResolver, DNSServer

from dmarcflow.store import Store
from dmarcflow.store.schema import MIGRATIONS
from tests.support.dns_server import free_udp_port
from tests.support.report_xml import record, report

OPENERS = 12
ROUNDS = 4


def _open_after(barrier, path: str, errors) -> None:
    barrier.wait()
    try:
        Store.open(path).close()
    except BaseException as exc:  # the test reports whatever a child hit
        errors.put(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1) from None


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]


def test_many_processes_first_opening_one_new_store(tmp_path):
    ctx = multiprocessing.get_context("fork")
    expected = None
    for round_ in range(ROUNDS):
        path = tmp_path / f"round{round_}" / "store.sqlite"
        barrier, errors = ctx.Barrier(OPENERS), ctx.Queue()
        procs = [ctx.Process(target=_open_after, args=(barrier, str(path), errors)) for _ in range(OPENERS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
        assert [p.exitcode for p in procs] == [0] * OPENERS, failures
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = _tables(path)
        expected = expected or tables
        assert tables == expected
    assert {"reports", "record_rows", "verdicts", "daily_rollup", "ip_info", "rejected", "raw_inputs"} <= set(expected)


# ----------------------------------------------------------------- ingests in parallel, and killed

REPORTS = 24
IPS_PER_REPORT = 30


def _ip(k: int) -> str:
    return str(ipaddress.IPv4Address(0x64400000 + k))  # 100.64.0.0/10: valid, in no one's PTR table


def _write_reports(folder: Path) -> list[str]:
    """REPORTS reports whose IP sets overlap (each shares 10 IPs with the next)."""
    folder.mkdir()
    for n in range(REPORTS):
        body = "".join(record(ip=_ip(n * 20 + i)) for i in range(IPS_PER_REPORT))
        (folder / f"r{n:02d}.xml").write_bytes(report(body, report_id=f"r-{n}"))
    return sorted(str(p) for p in folder.iterdir())


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share")}


def _dmarcflow(*args: object) -> list[str]:
    return [sys.executable, "-m", "dmarcflow", *map(str, args)]


def _state(db: Path) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "reports": one("SELECT count(*) FROM reports"),
            "identities": one("SELECT count(DISTINCT report_id) FROM reports"),
            "records": one("SELECT count(*) FROM records"),
            "ips": one("SELECT count(DISTINCT source_ip) FROM records"),
            "with_facts": one("SELECT count(DISTINCT source_ip) FROM records WHERE source_ip IN (SELECT ip FROM ip_info)"),
            "looked_up": one("SELECT count(*) FROM ip_info WHERE rdns_checked = 1"),
            "pending": one("SELECT count(*) FROM ip_pending"),
            # the invariant recovery rests on: no IP without facts AND without a pending mark
            "lost": one("SELECT count(DISTINCT source_ip) FROM records WHERE source_ip NOT IN (SELECT ip FROM ip_info) "
                        "AND source_ip NOT IN (SELECT ip FROM ip_pending)"),
            "integrity": one("PRAGMA integrity_check"),
        }


def test_concurrent_ingests_of_overlapping_inputs_store_every_report_once(tmp_path):
    files = _write_reports(tmp_path / "in")
    db = tmp_path / "store.sqlite"
    workers = 6
    # worker k ingests 12 of the 24 files, starting at 4k: every file is read by 3 workers
    chunks = [[files[(4 * k + i) % REPORTS] for i in range(12)] for k in range(workers)]
    procs = [subprocess.Popen(_dmarcflow("--db", db, "ingest", "--offline", "--format", "json", *chunk),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path)) for chunk in chunks]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * workers, [err.decode()[-500:] for _, err in results]
    statuses: dict[str, list[str]] = {}
    for out, _ in results:
        for row in json.loads(out):
            statuses.setdefault(row["path"], []).append(row["status"])
    assert {path: sorted(s) for path, s in statuses.items()} == {path: ["duplicate", "duplicate", "ingested"] for path in files}
    assert _state(db) == {
        "reports": REPORTS, "identities": REPORTS, "records": REPORTS * IPS_PER_REPORT, "ips": 23 * 20 + 30,
        "with_facts": 23 * 20 + 30, "looked_up": 0, "pending": 0, "lost": 0, "integrity": "ok",
    }


class _SlowPtr(BaseResolver):
    """Answers every PTR query with NXDOMAIN after a pause, so that reverse DNS takes real time."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        reply = request.reply()
        reply.header.rcode = 3
        return reply


def test_kill_9_at_random_points_then_a_rerun_completes_everything(tmp_path):
    files = _write_reports(tmp_path / "in")
    db = tmp_path / "store.sqlite"
    port = free_udp_port()
    server = DNSServer(_SlowPtr(0.02), port=port, address="127.0.0.1")
    config = tmp_path / "dmarcflow.toml"
    config.write_text(f'[enrichment]\nnameservers = ["127.0.0.1"]\ndns_port = {port}\ndns_timeout = 2.0\ndns_workers = 4\n')
    command = _dmarcflow("--config", config, "--db", db, "ingest", "--format", "json", tmp_path / "in")
    rng = random.Random(9)
    server.start_thread()
    try:
        pending_after_kills = []
        for _ in range(6):
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(tmp_path))
            time.sleep(rng.uniform(0.4, 3.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if db.exists():
                state = _state(db)
                assert (state["lost"], state["integrity"]) == (0, "ok"), state
                pending_after_kills.append(state["pending"])
        final = subprocess.run(command, capture_output=True, env=_env(tmp_path), timeout=300)
    finally:
        server.stop()
    assert final.returncode == 0, final.stderr.decode()[-800:]
    outcomes = json.loads(final.stdout)
    assert sorted(row["path"] for row in outcomes) == files
    assert {row["status"] for row in outcomes} <= {"ingested", "duplicate"}
    ips = 23 * 20 + 30
    assert _state(db) == {
        "reports": REPORTS, "identities": REPORTS, "records": REPORTS * IPS_PER_REPORT, "ips": ips,
        "with_facts": ips, "looked_up": ips, "pending": 0, "lost": 0, "integrity": "ok",
    }, pending_after_kills
