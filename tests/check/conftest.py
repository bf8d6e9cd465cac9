"""A real DNS server on loopback serving zones with known defects, and a store holding the sample reports
plus one hand-written report of keys.test (so `check` can link selectors and sources)."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from tests.support.analysis_data import feedback, rec
from tests.support.check_zones import SERVFAIL, TIMEOUT, zones
from tests.support.dns_server import ZoneServer

KEYS_REPORT = feedback([
    rec("198.51.100.7", 40, "keys.test", spf=("keys.test", "pass"), evaluated=("fail", "pass")),
    rec("192.0.2.20", 30, "keys.test", spf=("keys.test", "fail")),
    rec("203.0.113.9", 50, "keys.test", dkim=(("keys.test", "pass"),), spf=("keys.test", "pass"),
        evaluated=("pass", "pass")),
    rec("198.18.0.1", 5, "keys.test", spf=("keys.test", "fail")),
], domain="keys.test")

CONFIG = """
[dns]
timeout = 0.5

[approved."keys.test"]
networks = ["192.0.2.16/28"]
"""


@pytest.fixture(scope="package")
def dns_zones():
    with ZoneServer(zones(), timeout=TIMEOUT, servfail=SERVFAIL) as server:
        yield server


@pytest.fixture(scope="package")
def report_store(tmp_path_factory):
    """A store with every sample report and the keys.test report (offline: no reverse DNS)."""
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store import Store

    path = tmp_path_factory.mktemp("check") / "store.sqlite"
    enricher = Enricher(EnrichmentSettings(offline=True))
    with Store.open(path) as store:
        ingestor = Ingestor(store, enricher, Limits())
        # The report files at the top of sample_reports/ (quirks/ holds the ingest tests' quirk samples).
        outcomes = [o for f in sorted(SAMPLES.iterdir()) if f.is_file() for o in ingestor.ingest_file(str(f))]
        outcomes.append(ingestor.ingest_bytes("keys.xml", KEYS_REPORT))
    enricher.close()
    assert [o.status for o in outcomes] == ["ingested"] * len(outcomes)
    return path


@pytest.fixture
def check_cli(cli, tmp_path, dns_zones, report_store):
    """Run `dmarcflow check` against the zones with a copy of the report store (check writes its results
    there), with a short DNS timeout."""
    import shutil

    config = tmp_path / "dmarcflow.toml"
    config.write_text(CONFIG)
    copy = tmp_path / "reports.sqlite"
    shutil.copy(report_store, copy)

    def run(*args: str, db=copy, nameserver: str | None = None):
        return cli("--config", config, "--db", db, "check", "--nameserver", nameserver or dns_zones.address, *args)

    return run


@pytest.fixture
def run_json(cli):
    """Run the CLI and parse its stdout as JSON (asserting exit 0)."""
    import json

    def _run(*args):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return _run
