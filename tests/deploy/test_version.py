"""`dmarcflow --version [--verbose]` and `dmarcflow version`: one version, the IP database and its licence."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import maxminddb
import pytest
from click.testing import CliRunner

import dmarcflow
from dmarcflow.about import dependency_versions
from dmarcflow.cli import main
from dmarcflow.enrich import default_ip_db

ATTRIBUTION = "  attribution: IP address data powered by IPinfo (https://ipinfo.io), licensed under CC BY-SA 4.0"


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def _built(path: Path) -> str:
    with maxminddb.open_database(str(path)) as reader:
        epoch = reader.metadata().build_epoch
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_one_version_everywhere() -> None:
    result = _run("--version")
    assert (result.exit_code, result.output) == (0, f"dmarcflow {dmarcflow.__version__}\n")
    assert metadata.version("dmarcflow") == dmarcflow.__version__


def test_verbose_names_the_bundled_database_its_build_date_and_licence() -> None:
    result = _run("--version", "--verbose")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:3] == [f"dmarcflow {dmarcflow.__version__}", lines[1], "dependencies:"]
    assert f"  parsedmarc {metadata.version('parsedmarc')}" in lines
    assert f"  prometheus-client {metadata.version('prometheus-client')}" in lines
    db = default_ip_db()
    assert lines[-5:] == [
        f"IP database: {db} (bundled)",
        f"  type: ipinfo bundle_location_lite.mmdb, built {_built(db)}",
        f"  provider: IPinfo Lite, by IPinfo (ipinfo.io), shipped in parsedmarc {metadata.version('parsedmarc')} "
        "(parsedmarc/resources/ipinfo/ipinfo_lite.mmdb)",
        "  licence: CC BY-SA 4.0",
        ATTRIBUTION,
    ]
    assert _run("version", "--verbose").output == result.output


def test_a_newer_database_can_be_configured(tmp_path: Path) -> None:
    newer = tmp_path / "ipinfo_lite-2027.mmdb"
    shutil.copyfile(default_ip_db(), newer)  # the same layout a downloaded IPinfo Lite file has
    result = _run("version", "--verbose", env={"DMARCFLOW_ENRICHMENT_IP_DB": str(newer)})
    assert result.exit_code == 0
    assert result.output.splitlines()[-5:] == [
        f"IP database: {newer}", f"  type: ipinfo bundle_location_lite.mmdb, built {_built(newer)}",
        "  provider: IPinfo Lite, by IPinfo (ipinfo.io)", "  licence: CC BY-SA 4.0", ATTRIBUTION]


def test_json_output() -> None:
    data = json.loads(_run("version", "--format", "json").output)
    assert set(data) == {"version", "python", "dependencies", "ip_database"}
    assert data["ip_database"] == {
        "path": str(default_ip_db()), "bundled": True, "database_type": "ipinfo bundle_location_lite.mmdb",
        "build_date": _built(default_ip_db()),
        "provider": f"IPinfo Lite, by IPinfo (ipinfo.io), shipped in parsedmarc {metadata.version('parsedmarc')} "
                    "(parsedmarc/resources/ipinfo/ipinfo_lite.mmdb)",
        "licence": "CC BY-SA 4.0", "attribution": ATTRIBUTION.removeprefix("  attribution: "), "error": ""}
    assert data["dependencies"]["dnspython"] == metadata.version("dnspython")


def test_an_optional_dependency_that_is_absent_says_so() -> None:
    assert dependency_versions(("dnspython", "dmarcflow-no-such-dist")) == {
        "dnspython": metadata.version("dnspython"), "dmarcflow-no-such-dist": "not installed"}


def test_a_missing_or_broken_database_is_a_configuration_error(tmp_path: Path) -> None:
    missing, junk = tmp_path / "gone.mmdb", tmp_path / "junk.mmdb"
    junk.write_bytes(b"not an mmdb file" * 100)
    cases = {  # config.py checks that the file exists; opening it checks that it is a database
        missing: f'Error: configuration: DMARCFLOW_ENRICHMENT_IP_DB = "{missing}": no such file',
        junk: f'Error: configuration: [enrichment] ip_db = "{junk}": not a readable MMDB database (',
    }
    for path, expected in cases.items():
        for args in (("--version", "--verbose"), ("version",),
                     ("--db", str(tmp_path / "s.sqlite"), "ingest", "--offline", str(tmp_path))):
            result = _run(*args, env={"DMARCFLOW_ENRICHMENT_IP_DB": str(path)})
            assert result.exit_code == 2, args
            assert result.stderr.splitlines()[-1].startswith(expected), (args, result.stderr)
            assert "Traceback" not in result.output


def test_a_command_is_required_unless_version_is_asked() -> None:
    result = _run("--db", "x.sqlite")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == "Error: Missing command."
