"""Stores for the web tests (samples, generated data with a known truth, hostile reports) and live servers."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import generator as g
from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor, list_inputs
from dmarcflow.store import Store
from dmarcflow.web.app import create_app
from dmarcflow.web.security import Access
from tests.conftest import SAMPLES
from tests.support.analysis_data import ingest_dataset, ingest_payloads
from tests.support.check_zones import SERVFAIL, TIMEOUT
from tests.support.dns_server import ZoneServer
from tests.support.posture import HOSTILE_CHECKED, hostile_selector_report, run_check, web_zones
from tests.support.hostile_kinds import build_hostile_kinds_store
from tests.support.report_xml import record, report
from tests.support.web import LiveServer, build_hostile_store

MIXED = g.Options(reports=18, records_per_report=60, schema="mixed", quirks=True, sources_per_domain=70)
LOOPBACK = Access(None, ("localhost", "127.0.0.1", "::1"))


@pytest.fixture(scope="package")
def sample_db(tmp_path_factory):
    """Every file of sample_reports/, ingested offline (reports, a conflict, rejected inputs)."""
    path = tmp_path_factory.mktemp("samples") / "store.sqlite"
    with Store.open(path) as store:
        enricher = Enricher(EnrichmentSettings(offline=True))
        try:
            ingestor = Ingestor(store, enricher, Limits())
            for name in list_inputs([str(SAMPLES)]):
                # Neither the ingest tests' quirk samples nor the other report kinds' (tls/, failure/: the
                # web UI shows aggregate reports) are part of these figures.
                if not any(f"/{folder}/" in name for folder in ("quirks", "tls", "failure")):
                    list(ingestor.ingest_file(name))
        finally:
            enricher.close()
    return path


@pytest.fixture(scope="package")
def mixed():
    return g.generate_dataset(5, MIXED)


@pytest.fixture(scope="package")
def mixed_db(mixed, tmp_path_factory):
    path = tmp_path_factory.mktemp("mixed") / "store.sqlite"
    ingest_dataset(path, mixed)
    return path


@pytest.fixture(scope="package")
def hostile_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "store.sqlite"
    build_hostile_store(path)
    return path


@pytest.fixture(scope="package")
def kinds_db(sample_db, tmp_path_factory):
    """The aggregate samples, every TLS and failure sample (through the real ingest), and an aggregate report
    of example.com on 2026-03-02 that saw 203.0.113.66, the forger one failure report names."""
    path = tmp_path_factory.mktemp("kinds") / "store.sqlite"
    shutil.copy(sample_db, path)
    with Store.open(path) as store:
        enricher = Enricher(EnrichmentSettings(offline=True))
        try:
            ingestor = Ingestor(store, enricher, Limits())
            for name in list_inputs([str(SAMPLES / "tls"), str(SAMPLES / "failure")]):
                assert [o.status for o in ingestor.ingest_file(name)] == ["ingested"], name
            spoof = record(ip="203.0.113.66", count="230", dkim_eval="fail", spf_eval="fail", dkim="fail", spf="fail",
                           dkim_domain="forger.example", spf_domain="forger.example")
            linked = ingestor.ingest_bytes("agg.xml", report(spoof, report_id="kinds-link", begin="1772409600",
                                                                end="1772495999"))
            assert linked.status == "ingested"
        finally:
            enricher.close()
    return path


@pytest.fixture(scope="package")
def hostile_kinds_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile-kinds") / "store.sqlite"
    build_hostile_kinds_store(path)
    return path


@pytest.fixture(scope="package")
def dns_zones():
    """The loopback DNS server that `dmarcflow check` asks in these tests (the web UI itself never does)."""
    with ZoneServer(web_zones(), timeout=TIMEOUT, servfail=SERVFAIL) as server:
        yield server


@pytest.fixture(scope="package")
def checked_db(sample_db, dns_zones, tmp_path_factory):
    """The samples with a saved check of example.net and example.com; example.org is never checked."""
    path = tmp_path_factory.mktemp("checked") / "store.sqlite"
    shutil.copy(sample_db, path)
    run = run_check(path, ("example.net", "example.com"), dns_zones.address)
    assert (run.saved, [len(r.findings) for r in run.results]) == (True, [3, 1])
    return path


@pytest.fixture(scope="package")
def hostile_checked_db(dns_zones, tmp_path_factory):
    """xss.test: HTML and script in its DNS records and in a reported DKIM selector, checked and saved."""
    path = tmp_path_factory.mktemp("hostile-checked") / "store.sqlite"
    assert [o.status for o in ingest_payloads(path, [hostile_selector_report()])] == ["ingested"]
    run = run_check(path, (HOSTILE_CHECKED,), dns_zones.address)
    assert [f.code for f in run.results[0].findings] == ["spf_include_broken", "dkim_key_missing", "mta_sts_invalid"]
    return path


@pytest.fixture(scope="package")
def serve():
    """serve(db, access=LOOPBACK) -> a started LiveServer (one per store and access, for the package)."""
    started: dict[tuple, LiveServer] = {}

    def _serve(db, access=LOOPBACK, approved=None):
        key = (str(db), access, json.dumps(sorted(approved or {})))
        if key not in started:
            started[key] = LiveServer(create_app(db, approved or {}, access)).__enter__()
        return started[key]

    yield _serve
    for server in started.values():
        server.__exit__(None, None, None)


@pytest.fixture
def run_json(cli):
    def _run(*args):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    return _run
