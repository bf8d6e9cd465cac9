"""`dmarcflow check --cached`: the saved results printed as `check` printed them, without asking the DNS; the
previous check kept for the `dns_changed` alert; usage errors."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from tests.check.test_check_cli import GOOD_TABLE


@pytest.fixture
def db(tmp_path):
    return tmp_path / "reports.sqlite"  # the copy check_cli writes to


def test_the_saved_check_prints_as_the_check_printed_it(check_cli, cli, db):
    fresh = check_cli("example.net", "good.test", "--format", "json")
    assert fresh.exit_code == 1
    again = cli("--db", db, "check", "--cached", "example.net", "good.test", "--format", "json")
    assert (again.exit_code, again.stdout) == (1, fresh.stdout)
    assert again.stderr == "Error: 3 error finding(s): example.net (3)\n"
    csv_fresh = check_cli("good.test", "extrua.test", "--format", "csv").stdout
    assert cli("--db", db, "check", "--cached", "good.test", "extrua.test", "--format", "csv").stdout == csv_fresh


def test_the_table_says_when_the_check_ran(check_cli, cli, db):
    check_cli("good.test")
    (checked_at,) = [d["checked_at"] for d in json.loads(
        cli("--db", db, "check", "--cached", "--format", "json").stdout)["domains"]]
    result = cli("--db", db, "check", "--cached", "good.test")
    head, rest = GOOD_TABLE.split("\n", 1)
    assert (result.exit_code, result.stdout) == (0, f"{head} (saved check of {checked_at})\n{rest}")


def test_without_domains_every_saved_check_in_name_order(check_cli, cli, db):
    check_cli("none.test", "good.test")
    out = json.loads(cli("--db", db, "check", "--cached", "--format", "json").stdout)
    assert [d["domain"] for d in out["domains"]] == ["good.test", "none.test"]


def test_a_domain_never_checked_says_which_command_to_run(check_cli, cli, db):
    check_cli("good.test")
    result = cli("--db", db, "check", "--cached", "nothing.test", "Good.Test.", "--format", "json")
    assert (result.exit_code, [d["domain"] for d in json.loads(result.stdout)["domains"]]) == (0, ["good.test"])
    assert result.stderr == "No check of nothing.test is saved: run `dmarcflow check nothing.test`.\n"


def test_a_store_without_any_check(cli, report_store):
    result = cli("--db", report_store, "check", "--cached")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No check is saved: run `dmarcflow check DOMAIN...`.\n")


def test_it_reads_without_writing_or_asking_the_dns(check_cli, cli, db, dns_zones):
    check_cli("good.test")
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    asked = len(dns_zones.zones.queries)
    assert cli("--db", db, "check", "--cached", "good.test").exit_code == 0
    assert (len(dns_zones.zones.queries), hashlib.sha256(db.read_bytes()).hexdigest()) == (asked, digest)


def test_each_check_keeps_the_one_before(check_cli, db):
    check_cli("none.test")
    check_cli("none.test", "good.test")
    conn = sqlite3.connect(db)
    latest = dict(conn.execute("SELECT domain, result FROM dns_checks").fetchall())
    previous = dict(conn.execute("SELECT domain, result FROM dns_checks_previous").fetchall())
    conn.close()
    assert sorted(latest) == ["good.test", "none.test"]
    assert list(previous) == ["none.test"]  # good.test was checked once
    assert json.loads(previous["none.test"])["findings"][0]["code"] == "dmarc_policy_none"


@pytest.mark.parametrize("args, message", [
    (["--cached", "good.test", "--nameserver", "127.0.0.1"], "--cached prints the saved checks: --nameserver, --since "
                                                             "and --until do not apply"),
    (["--cached", "--since", "30d"], "--cached prints the saved checks: --nameserver, --since and --until do not apply"),
    (["--cached", "http://example.com"], "Invalid value for 'DOMAINS...': 'http://example.com' is not a domain name "
                                         "(e.g. example.com; no URLs or addresses)"),
])
def test_usage_errors_exit_2(cli, report_store, args, message):
    result = cli("--db", report_store, "check", *args)
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (2, f"Error: {message}")


def test_no_store_is_a_usage_error(cli, tmp_path):
    result = cli("--db", tmp_path / "none.sqlite", "check", "--cached")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: no store at {tmp_path / 'none.sqlite'}")
