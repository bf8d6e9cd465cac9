"""/metrics through prometheus_client: exact DMARC figures from a real store with known content.

The store is filled through the real ingest (offline enrichment); the output is parsed back with
prometheus_client.parser, so the test checks what a Prometheus server would read.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import dmarcflow
from dmarcflow.config import ElasticsearchSettings, Settings
from dmarcflow.health import HealthServer, HealthState
from dmarcflow.index import outbox
from dmarcflow.metrics import DaemonCollector, index_targets, registered, render
from dmarcflow.notify import metrics as alert_metrics
from dmarcflow.store import Store
from tests.support.imap_mail import http_get
from tests.support.report_xml import record, report

MAR_1, MAR_2, MAR_3 = 1772323200, 1772409600, 1772496000  # 2026-03-01/02/03 00:00 UTC
NOW = MAR_3 + 12 * 3600  # "the last day" is then 2026-03-02
INDEX = "es.example.net:9200/dmarcflow"  # configured, never synced
SYNCED = "old.example.net:9200/dmarcflow"  # synced up to the 5th record, one refusal parked

UNAUTHORISED = dict(ip="198.51.100.66", count="3", dkim_eval="fail", spf_eval="fail", dkim="fail", spf="fail",
                    dkim_domain="spoof.example", spf_domain="spoof.example", disposition="reject")
MISCONFIGURED = dict(ip="203.0.113.5", count="4", dkim_eval="fail", spf_eval="fail", dkim="fail", spf="pass",
                     spf_domain="bounces.esp.example", envelope_from="bounces.esp.example")


def _ingest(ingestor, name: str, data: bytes) -> str:
    return ingestor.ingest_bytes(name, data).status


@pytest.fixture
def filled(db_path: Path, ingestor) -> Path:
    yesterday = record(count="10") + record(**UNAUTHORISED) + record(**MISCONFIGURED)
    statuses = [
        _ingest(ingestor, "a.xml", report(yesterday, report_id="a", begin=str(MAR_2), end=str(MAR_3 - 1))),
        _ingest(ingestor, "b.xml", report(record(count="7"), report_id="b", begin=str(MAR_1), end=str(MAR_2 - 1))),
        _ingest(ingestor, "b2.xml", report(record(count="7") + record(count="1"), report_id="b",
                                           begin=str(MAR_1), end=str(MAR_2 - 1))),
        _ingest(ingestor, "org.xml", report(record(count="2", header_from="example.org"), report_id="o",
                                            domain="example.org", begin=str(MAR_1), end=str(MAR_2 - 1))),
        _ingest(ingestor, "hello.txt", b"hello, not a report"),
        _ingest(ingestor, "broken.xml", b"<?xml version='1.0'?><feedback><report_metadata>"),
        _ingest(ingestor, "dtd.xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><feedback/>"),
    ]
    assert statuses == ["ingested", "ingested", "conflict", "ingested", "rejected", "rejected", "rejected"]
    with Store.open(db_path) as store:
        with store.transaction():
            outbox.advance(store, SYNCED, 5)
            outbox.park_failures(store, SYNCED, [outbox.Failure(2, 400, "mapper_parsing_exception", 1)])
    return db_path


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _store_samples(db: Path, targets: tuple[str, ...] = ()) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(DaemonCollector(HealthState(db), db, lambda: targets, clock=lambda: NOW))
    return _samples(registry)


def test_dmarc_figures_from_the_store(filled: Path) -> None:
    samples = _store_samples(filled, (INDEX,))
    figures = {key: value for key, value in samples.items()
               if key[0].startswith(("dmarcflow_store", "dmarcflow_last_day", "dmarcflow_latest", "dmarcflow_index"))}
    assert figures == {
        ("dmarcflow_store_up", ()): 1,
        ("dmarcflow_store_reports", (("status", "active"),)): 3,
        ("dmarcflow_store_reports", (("status", "conflict"),)): 1,
        ("dmarcflow_store_records", ()): 7,  # 3 + 1 + 2 (the conflicting version) + 1
        ("dmarcflow_store_rejected_inputs", (("reason", "forbidden_xml"),)): 1,
        ("dmarcflow_store_rejected_inputs", (("reason", "malformed_xml"),)): 1,
        ("dmarcflow_store_rejected_inputs", (("reason", "not_a_report"),)): 1,
        ("dmarcflow_last_day_messages", (("class", "authorised"), ("domain", "example.com"))): 10,
        ("dmarcflow_last_day_messages", (("class", "forwarded"), ("domain", "example.com"))): 0,
        ("dmarcflow_last_day_messages", (("class", "misconfigured"), ("domain", "example.com"))): 4,
        ("dmarcflow_last_day_messages", (("class", "unauthorised"), ("domain", "example.com"))): 3,
        ("dmarcflow_last_day_messages", (("class", "authorised"), ("domain", "example.org"))): 0,
        ("dmarcflow_last_day_messages", (("class", "forwarded"), ("domain", "example.org"))): 0,
        ("dmarcflow_last_day_messages", (("class", "misconfigured"), ("domain", "example.org"))): 0,
        ("dmarcflow_last_day_messages", (("class", "unauthorised"), ("domain", "example.org"))): 0,
        ("dmarcflow_latest_report_end_timestamp_seconds", (("domain", "example.com"),)): MAR_3 - 1,
        ("dmarcflow_latest_report_end_timestamp_seconds", (("domain", "example.org"),)): MAR_2 - 1,
        ("dmarcflow_index_backlog_records", (("target", INDEX),)): 7,
        ("dmarcflow_index_backlog_records", (("target", SYNCED),)): 2,
        ("dmarcflow_index_parked_records", (("target", INDEX),)): 0,
        ("dmarcflow_index_parked_records", (("target", SYNCED),)): 1,
    }


def test_a_store_not_created_yet_has_no_figures_and_an_unreadable_one_says_so(tmp_path: Path) -> None:
    samples = _store_samples(tmp_path / "later.sqlite")
    assert samples[("dmarcflow_store_up", ())] == 1
    assert samples[("dmarcflow_store_records", ())] == 0
    assert [k for k in samples if k[0] == "dmarcflow_last_day_messages"] == []
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database, and long enough to look like a header" * 20)
    samples = _store_samples(broken)
    assert samples[("dmarcflow_store_up", ())] == 0
    assert [k for k in samples if k[0].startswith("dmarcflow_store_reports")] == []


def test_index_targets_follow_the_settings() -> None:
    assert index_targets(Settings()) == []
    settings = Settings(elasticsearch=ElasticsearchSettings(url="https://user:pw@es.example.net", index_prefix="dm"))
    assert index_targets(settings) == ["es.example.net:443/dm"]


def test_the_endpoint_serves_the_default_registry_with_process_and_build_info(filled: Path) -> None:
    state = HealthState(filled)
    state.watch(["main"], longest_wait=60)
    state.polled("main")
    alert_metrics.prime([])  # what the alerts hook does when the daemon starts
    server = HealthServer(state, "127.0.0.1", 0, metrics=render)
    try:
        with registered(DaemonCollector(state, filled, clock=lambda: NOW)):
            host, port = server.address
            status, text = http_get(f"http://{host}:{port}/metrics")
        after_status, after = http_get(f"http://{host}:{port}/metrics")
    finally:
        server.close()
    assert (status, after_status) == (200, 200)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    build = (("python", platform.python_version()), ("version", dmarcflow.__version__))
    assert samples[("dmarcflow_build_info", build)] == 1
    assert samples[("process_resident_memory_bytes", ())] > 0  # a real figure of this process
    assert samples[("dmarcflow_store_records", ())] == 7
    assert samples[("dmarcflow_last_poll_timestamp_seconds", (("mailbox", "main"),))] > 0
    # Counters other modules keep in the default registry appear with no wiring (the alerts' ones here).
    assert ("dmarcflow_alerts_delivered_total", (("channel", "email"),)) in samples
    assert "dmarcflow_store_records" not in after  # unregistered with its daemon
    assert "process_resident_memory_bytes" in after

