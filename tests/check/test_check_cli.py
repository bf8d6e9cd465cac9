"""The `check` command: records found, output formats, exit codes, the cache `summary` reads, usage errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

GOOD_TABLE = """\
good.test: 0 error(s), 0 warning(s), 0 note(s)
  DMARC    _dmarc.good.test: v=DMARC1; p=reject; rua=mailto:dmarc@good.test
  SPF      good.test: v=spf1 ip4:192.0.2.0/24 -all (0 DNS lookups, 0 void)
  DKIM     no stored reports for this domain: selectors and sources not checked
  MTA-STS  _mta-sts.good.test: v=STSv1; id=20260301
  TLS-RPT  _smtp._tls.good.test: v=TLSRPTv1; rua=mailto:tls@good.test
  BIMI     default._bimi.good.test: v=BIMI1; l=https://good.test/logo.svg
"""


def _json(result) -> dict:
    return {d["domain"]: d for d in json.loads(result.stdout)["domains"]}


def test_a_healthy_domain(check_cli):
    result = check_cli("good.test")
    assert (result.exit_code, result.stdout) == (0, GOOD_TABLE)


def test_warnings_alone_exit_0_and_errors_exit_1(check_cli):
    assert check_cli("none.test", "nosts.test", "ptr.test").exit_code == 0
    assert check_cli("none.test", "nospf.test").exit_code == 1


def test_the_records_behind_the_findings(check_cli):
    out = _json(check_cli("ten.test", "eleven.test", "twovoid.test", "void.test", "mail.parent.test",
                          "redir.test", "example.net", "keys.test", "slowdmarc.test", "--format", "json"))
    spf = {d: (out[d]["records"]["spf"]["lookups"], out[d]["records"]["spf"]["void_lookups"])
           for d in ("ten.test", "eleven.test", "twovoid.test", "void.test", "redir.test")}
    assert spf == {"ten.test": (10, 0), "eleven.test": (11, 0), "twovoid.test": (2, 2), "void.test": (3, 3),
                   "redir.test": (1, 0)}
    dmarc = out["mail.parent.test"]["records"]["dmarc"]
    assert (dmarc["name"], dmarc["found_at"], dmarc["inherited"], dmarc["policy"]) == (
        "_dmarc.parent.test", "parent.test", True, "reject")
    assert [(k["name"], k["status"], k.get("bits"), k["messages"]) for k in out["example.net"]["records"]["dkim"]] == [
        ("google._domainkey.example.net", "weak", 512, 1535),
        ("s2026._domainkey.example.net", "ok", 2048, 1474),
        ("google._domainkey.shop.example.net", "missing", None, 1602),
        ("s2026._domainkey.shop.example.net", "invalid", None, 430),
    ]
    assert out["example.net"]["reports"] == {"messages": 5541, "spf_sources": 0, "dkim_selectors": 4, "left_out": 0}
    sources = [(s["ip"], s["messages"], s["spf_domain"], s["result"]) for s in out["keys.test"]["records"]["spf"]["sources"]]
    assert sources == [("198.51.100.7", 40, "keys.test", "pass"), ("192.0.2.20", 30, "keys.test", "fail")]
    (unauthorised,) = [f for f in out["keys.test"]["findings"] if f["code"] == "spf_unauthorised_source"]
    assert (unauthorised["ip"], unauthorised["messages"], unauthorised["result"], unauthorised["severity"]) == (
        "192.0.2.20", 30, "fail", "error")
    assert out["slowdmarc.test"]["records"]["dmarc"] == {"name": "_dmarc.slowdmarc.test", "record": None,
                                                         "status": "unreachable"}
    assert out["example.net"]["checked_at"].endswith("Z")


def test_csv_has_one_row_per_finding(check_cli):
    rows = list(csv.DictReader(io.StringIO(check_cli("extrua.test", "good.test", "--format", "csv").stdout)))
    assert [(r["domain"], r["severity"], r["code"], r["name"]) for r in rows] == [
        ("extrua.test", "error", "dmarc_external_rua_unauthorised", "extrua.test._report._dmarc.other.test")]
    assert rows[0]["message"].startswith("reports for extrua.test go to agg@other.test, but other.test has not")


def test_summary_shows_the_errors_of_the_last_check(check_cli, cli, run_json, tmp_path):
    db = tmp_path / "reports.sqlite"  # the copy check_cli uses
    assert check_cli("example.net").exit_code == 1
    out = run_json("--db", db, "summary", "example.net", "--format", "json")
    (net,) = out["domains"]
    assert [f["code"] for f in net["dns_check"]["errors"]] == ["dkim_key_weak", "dkim_key_missing", "dkim_key_invalid"]
    assert net["status"] == "not ready: Twilio SendGrid fails DKIM alignment; DNS check: 3 errors"
    lines = cli("--db", db, "summary", "example.net").stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("DNS check of "))
    assert lines[at].endswith("Z: 3 error(s) (`dmarcflow check example.net` for all findings)")
    assert lines[at + 1].startswith("  dkim_key_weak: the DKIM key at google._domainkey.example.net is a 512-bit")
    # A domain never checked has no DNS part; keys.test was not checked in this store.
    assert run_json("--db", db, "summary", "keys.test", "--format", "json")["domains"][0]["dns_check"] is None


def test_without_a_store_nothing_is_linked_or_saved(check_cli, tmp_path):
    db = tmp_path / "none.sqlite"
    result = check_cli("example.net", db=db)
    assert result.exit_code == 0  # without reports no DKIM selector is known, so no key can be missing
    assert result.stderr == (f"No store at {db}: DKIM selectors and sending IPs from reports were not checked, "
                             "and the result is not saved.\n")
    assert not db.exists()


def test_the_resolver_comes_from_the_config(cli, tmp_path, dns_zones, monkeypatch):
    config = tmp_path / "dmarcflow.toml"
    config.write_text(f'[dns]\nnameservers = ["{dns_zones.address}"]\ntimeout = 0.5\n')
    result = cli("--config", config, "--db", tmp_path / "x.sqlite", "check", "good.test")
    assert (result.exit_code, result.stdout) == (0, GOOD_TABLE)
    monkeypatch.setenv("DMARCFLOW_DNS_NAMESERVERS", dns_zones.address)
    monkeypatch.setenv("DMARCFLOW_DNS_TIMEOUT", "0.5")
    env = cli("--db", tmp_path / "x.sqlite", "check", "nodmarc.test", "--format", "json")
    assert [f["code"] for f in _json(env)["nodmarc.test"]["findings"]] == ["dmarc_missing"]


@pytest.mark.parametrize("args, message", [
    (["http://example.com"], "Invalid value for 'DOMAINS...': 'http://example.com' is not a domain name "
                             "(e.g. example.com; no URLs or addresses)"),
    (["example.com", "--nameserver", "dns.example"], "Invalid value for '--nameserver': 'dns.example' is not an IP "
                                                     "address (use IP, IP:PORT or [IPv6]:PORT; no host names)"),
    (["example.com", "--nameserver", "127.0.0.1:99999"], "Invalid value for '--nameserver': '127.0.0.1:99999': the "
                                                         "port must be a number from 1 to 65535"),
    ([], "Missing argument 'DOMAINS...'."),
])
def test_usage_errors_exit_2(cli, args, message):
    result = cli("check", *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"


@pytest.mark.parametrize("text, message", [
    ('[dns]\nnameservers = ["10.0.0.1:0"]\n', "[dns] nameservers = [\"10.0.0.1:0\"]: '10.0.0.1:0': the port must be a "
                                           'number from 1 to 65535 (write e.g. nameservers = ["192.0.2.53", '
                                           '"127.0.0.1:5353"])'),
    ('[dns]\ntimeout = 0\n', "[dns] timeout = 0.0: must be a number of seconds above 0 and at most 60 (write e.g. "
                             "timeout = 3.0)"),
    ('[dns]\nserver = "x"\n', "[dns] unknown key(s): server"),
])
def test_dns_settings_are_validated(cli, tmp_path, text, message):
    config = tmp_path / "dmarcflow.toml"
    config.write_text(text)
    result = cli("--config", config, "check", "example.com")
    assert (result.exit_code, result.stderr) == (2, f"Error: configuration: {message}\n")


def test_the_biggest_selectors_are_checked_first(check_cli, monkeypatch):
    from dmarcflow.check import posture

    monkeypatch.setattr(posture, "MAX_SELECTORS", 2)  # the bound, lowered so the samples exceed it
    out = _json(check_cli("example.net", "--format", "json"))["example.net"]
    assert [(k["name"], k["messages"]) for k in out["records"]["dkim"]] == [
        ("google._domainkey.example.net", 1535), ("google._domainkey.shop.example.net", 1602)]
    assert out["reports"]["left_out"] == 2
    assert [f["code"] for f in out["findings"]] == ["dkim_key_weak", "dkim_key_missing"]
