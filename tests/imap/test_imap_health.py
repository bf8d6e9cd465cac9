"""Health judgement, metrics text, after-pass hooks and a mailbox worker run in-process."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from dmarcflow.config import Settings, StoreSettings, EnrichmentSettings
from dmarcflow.daemon import Hooks, MailboxWorker
from dmarcflow.fetch import Filed
from dmarcflow.health import COUNTERS, HealthServer, HealthState, parse_address
from dmarcflow.ingest import InputOutcome, PayloadOutcome
from dmarcflow.metrics import DaemonCollector, render
from dmarcflow.store import Store
from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import Folders, count_rows, http_get, mailbox_table, report_mails, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    Store.open(tmp_path / "s.sqlite").close()
    return tmp_path / "s.sqlite"


def outcome(*statuses: str) -> InputOutcome:
    payloads = tuple(PayloadOutcome(f"p{i}", s) for i, s in enumerate(statuses))
    stored = sum(s != "rejected" for s in statuses)
    return InputOutcome("imap://m/INBOX/1", max(statuses), None, None, stored, 0, 0, payloads)


def test_healthy_until_the_last_poll_is_too_old(store_file: Path) -> None:
    clock = Clock()
    state = HealthState(store_file, clock=clock)
    state.watch(["main"], longest_wait=60)
    assert state.problems() == []
    clock.now += 179
    state.polled("main")
    clock.now += 180
    assert state.problems() == []
    clock.now += 1
    state.failed("main", "mailbox 'main': cannot connect to imap.example.com:993: timed out")
    assert state.problems() == [
        "mailbox main: last successful poll 181 s ago (limit 180 s); "
        "last error: mailbox 'main': cannot connect to imap.example.com:993: timed out"]


def test_no_poll_yet_counts_from_start_and_a_fixed_limit_wins(store_file: Path) -> None:
    clock = Clock()
    state = HealthState(store_file, max_age=10, clock=clock)
    state.watch(["a", "b"], longest_wait=600)
    clock.now += 11
    state.polled("b")
    assert state.problems() == ["mailbox a: no successful poll yet 11 s ago (limit 10 s)"]


def test_store_problems(tmp_path: Path, store_file: Path) -> None:
    state = HealthState(tmp_path / "gone.sqlite")
    state.watch([], longest_wait=60)
    assert state.problems() == [f"store not writable: {tmp_path / 'gone.sqlite'} does not exist"]
    state = HealthState(store_file)
    state.watch(["m"], longest_wait=60)
    state.failed("m", "store: database or disk is full", store=True)
    assert state.problems() == ["store not writable: store: database or disk is full"]
    state.polled("m")  # a completed pass wrote to the store
    assert state.problems() == []


def test_metrics_text(store_file: Path) -> None:
    clock = Clock()
    state = HealthState(store_file, clock=clock)
    state.watch(["main"], longest_wait=60)
    for item in (outcome("ingested", "duplicate"), outcome("conflict"), outcome("rejected")):
        state.filed(Filed("main", 1, "Archive", item))
    state.reconnecting("main")
    state.polled("main")
    registry = CollectorRegistry()
    registry.register(DaemonCollector(state, store_file, clock=clock))
    samples = {(s.name, s.labels.get("mailbox")): s.value for family in text_string_to_metric_families(render(registry).decode())
               for s in family.samples if s.name.startswith(("dmarcflow_last_poll", *(f"dmarcflow_{k}" for k in COUNTERS)))}
    assert samples == {
        ("dmarcflow_messages_seen_total", "main"): 3,
        ("dmarcflow_reports_stored_total", "main"): 2,
        ("dmarcflow_duplicates_total", "main"): 1,
        ("dmarcflow_conflicts_total", "main"): 1,
        ("dmarcflow_rejected_total", "main"): 1,
        ("dmarcflow_reconnects_total", "main"): 1,
        ("dmarcflow_last_poll_timestamp_seconds", "main"): 1800000000.0,
    }


def test_http_endpoints(store_file: Path) -> None:
    state = HealthState(store_file, max_age=30)
    state.watch(["main"], longest_wait=60)
    registry = CollectorRegistry()
    registry.register(DaemonCollector(state, store_file))
    server = HealthServer(state, "127.0.0.1", 0, metrics=lambda: render(registry))
    try:
        host, port = server.address
        assert http_get(f"http://{host}:{port}/healthz") == (200, "ok\n")
        state.failed("main", "boom", store=True)
        assert http_get(f"http://{host}:{port}/healthz") == (503, "store not writable: boom\n")
        status, text = http_get(f"http://{host}:{port}/metrics")
        assert status == 200
        assert 'dmarcflow_messages_seen_total{mailbox="main"} 0.0' in text.splitlines()
    finally:
        server.close()


@pytest.mark.parametrize(("text", "address"), [("127.0.0.1:9108", ("127.0.0.1", 9108)), ("[::1]:80", ("::1", 80)), (":9", ("127.0.0.1", 9))])
def test_parse_address(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


def test_parse_address_rejects_a_missing_port() -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        parse_address("localhost")


def test_a_failing_hook_is_logged_and_the_next_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("index unreachable")

    with caplog.at_level(logging.ERROR, logger="dmarcflow.daemon"):
        Hooks([broken, lambda: calls.append("sync")]).run()
    assert calls == ["sync"]
    assert "failed" in caplog.records[0].getMessage() and caplog.records[0].exc_info[1].args == ("index unreachable",)


def test_worker_stores_files_and_runs_after_pass_hooks(shared_dovecot: DovecotServer, folders: Folders, tmp_path: Path) -> None:
    """A mailbox worker in-process: the hook the Elasticsearch sync plugs into runs after each pass."""
    from dmarcflow.config import MailboxSettings

    mails = report_mails(3, seed=31)
    for mail in mails:
        shared_dovecot.append(folders.inbox, mail.raw)
    box = MailboxSettings(**mailbox_table(shared_dovecot, **folders.table()))  # type: ignore[arg-type]
    db = tmp_path / "w.sqlite"
    settings = Settings(store=StoreSettings(str(db)), enrichment=EnrichmentSettings(offline=True), mailboxes=(box,))
    state = HealthState(db)
    state.watch([box.name], longest_wait=box.poll_interval)
    passes = threading.Semaphore(0)
    stop = threading.Event()
    worker = MailboxWorker(box, settings, state, Hooks([passes.release]), stop)
    worker.start()
    try:
        assert passes.acquire(timeout=30), "no pass completed within 30 s"
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive() and worker.fatal == ""
    assert count_rows(db, "reports") == 3
    assert folders.counts(shared_dovecot) == {"INBOX": 0, "Archive": 3, "Invalid": 0}
    assert state.snapshot()["reports"].counters["reports_stored"] == 3
