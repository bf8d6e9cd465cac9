"""The `dns_changed` alert, through the commands: `dmarcflow check` twice against the real loopback DNS server
with zones changed in between, then `dmarcflow alerts`. Exactly one alert per changed record, with the
severity of what changed; none for an unchanged record, a record that did not answer, or a domain checked once;
once only; cleared by a check that finds the record unchanged; raised again by a further change."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.analysis_data import feedback, ingest_payloads, rec
from tests.support.check_zones import Records, healthy, merge, rsa_key
from tests.support.dns_server import ZoneServer

KEY = f"v=DKIM1; k=rsa; p={rsa_key(2048, 7)}"
DOMAINS = ("dkim.test", "flaky.test", "same.test", "spfchange.test", "spfgone.test", "spfplus.test", "sts.test",
           "weak.test")
OTHER_RULES_OFF = ("new_unauthorised_source = false\nown_sender_failing = false\npass_rate_drop = false\n"
                   "reports_stopped = false\n")


def first_zones() -> Records:
    return merge(*(healthy(d) for d in (*DOMAINS, "once.test")),
                 {"s1._domainkey.dkim.test": [("TXT", KEY)]})


def change(server: ZoneServer, name: str, text: str | None) -> None:
    """Replace the TXT record at name (None: remove it) while the server runs."""
    if text is None:
        server.zones.records.pop(name, None)
    else:
        server.zones.records[name] = [("TXT", text)]


def second_zones(server: ZoneServer) -> None:
    change(server, "_dmarc.weak.test", "v=DMARC1; p=none; rua=mailto:dmarc@weak.test")
    change(server, "spfgone.test", None)
    change(server, "spfchange.test", "v=spf1 ip4:198.51.100.0/24 -all")
    change(server, "spfplus.test", "v=spf1 ip4:192.0.2.0/24 +all")
    change(server, "_mta-sts.sts.test", "v=STSv1; id=20260401")
    change(server, "s1._domainkey.dkim.test", None)
    server.zones.timeout.add("_dmarc.flaky.test")  # no answer: its DMARC record is not compared


@pytest.fixture
def zones() -> Iterator[ZoneServer]:
    with ZoneServer(first_zones()) as server:
        yield server


@pytest.fixture
def run(cli, tmp_path: Path, zones: ZoneServer):
    """Run a dmarcflow command with a store holding one report of dkim.test (signed with selector s1)."""
    db = tmp_path / "store.sqlite"
    signed = rec("192.0.2.5", 10, "dkim.test", dkim=(("dkim.test", "pass"),), spf=("dkim.test", "pass"),
                 evaluated=("pass", "pass"))
    ingest_payloads(db, [feedback([signed], domain="dkim.test")])
    config = tmp_path / "dmarcflow.toml"
    config.write_text(f'[dns]\nnameservers = ["{zones.address}"]\ntimeout = 0.5\n\n[alerts]\n{OTHER_RULES_OFF}')

    def _run(*args: str, extra: str = ""):
        if extra:
            config.write_text(config.read_text() + extra)
        return cli("--config", config, "--db", db, *args)

    return _run


def alerts(run, *args: str, extra: str = "") -> dict:
    result = run("alerts", "--format", "json", *args, extra=extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def key(domain: str, subject: str, before: str | None, after: str | None) -> str:
    digest = hashlib.sha256(f"{before}\0{after}".encode()).hexdigest()[:12]
    return f"dns_changed:{domain}:{subject}:{digest}"


EXPECTED = [  # (key, severity, change) in the order raised: by domain, then DMARC, SPF, DKIM, MTA-STS
    (key("dkim.test", "dkim:s1._domainkey.dkim.test", KEY, None), "critical", "removed"),
    (key("spfchange.test", "spf", "v=spf1 ip4:192.0.2.0/24 -all", "v=spf1 ip4:198.51.100.0/24 -all"), "warning",
     "changed"),
    (key("spfgone.test", "spf", "v=spf1 ip4:192.0.2.0/24 -all", None), "critical", "removed"),
    (key("spfplus.test", "spf", "v=spf1 ip4:192.0.2.0/24 -all", "v=spf1 ip4:192.0.2.0/24 +all"), "critical", "changed"),
    (key("weak.test", "dmarc", "v=DMARC1; p=reject; rua=mailto:dmarc@weak.test",
         "v=DMARC1; p=none; rua=mailto:dmarc@weak.test"), "critical", "weakened"),
]
STS = (key("sts.test", "mta_sts", "v=STSv1; id=20260301", "v=STSv1; id=20260401"), "info", "changed")


def test_each_changed_record_raises_one_alert_with_the_severity_of_the_change(run, zones: ZoneServer) -> None:
    assert run("check", *DOMAINS, "once.test").exit_code == 0
    assert alerts(run)["alerts"] == []  # one check per domain: nothing to compare yet
    second_zones(zones)
    assert run("check", *DOMAINS).exit_code == 1  # spf_missing, spf_permissive_all, dkim_key_missing, ...
    out = alerts(run)
    assert [(a["key"], a["severity"], a["details"]["change"]) for a in out["alerts"]] == EXPECTED
    assert (out["open"], out["cleared"]) == (5, [])
    by_domain = {a["domain"]: a for a in out["alerts"]}
    weak = by_domain["weak.test"]
    checked = (weak["details"]["previous_checked_at"], weak["details"]["checked_at"])
    between = f"between the checks of {checked[0]} and {checked[1]}"
    assert weak["message"] == (f"DMARC policy of weak.test weakened (p reject -> none) {between}: _dmarc.weak.test "
                               'changed from "v=DMARC1; p=reject; rua=mailto:dmarc@weak.test" to '
                               '"v=DMARC1; p=none; rua=mailto:dmarc@weak.test"')
    assert weak["fix"] == ("If the policy was not weakened on purpose, publish the previous record again at "
                           "_dmarc.weak.test: v=DMARC1; p=reject; rua=mailto:dmarc@weak.test. Until then receivers "
                           "apply the weaker policy to mail that fails DMARC.")
    assert by_domain["spfgone.test"]["message"] == (f"SPF record of spfgone.test removed {between}: spfgone.test "
                                                    'held "v=spf1 ip4:192.0.2.0/24 -all"')
    assert by_domain["spfplus.test"]["details"]["new_errors"] == ["spf_permissive_all"]
    assert by_domain["spfplus.test"]["message"].endswith("; new error(s): spf_permissive_all")
    assert by_domain["spfchange.test"]["fix"] == (
        "If you made this change, nothing to do. If not, someone else can edit the DNS of spfchange.test: check who "
        "can, and publish the previous record again at spfchange.test: v=spf1 ip4:192.0.2.0/24 -all.")
    dkim = by_domain["dkim.test"]
    assert (dkim["details"]["name"], dkim["details"]["previous"], dkim["details"]["current"]) == (
        "s1._domainkey.dkim.test", KEY, None)
    assert dkim["message"].startswith(f"DKIM key record of dkim.test removed {between}: s1._domainkey.dkim.test held "
                                      '"v=DKIM1; k=rsa; p=')
    assert dkim["message"].endswith('…"')  # a key is quoted short; the details hold it whole
    assert alerts(run)["alerts"] == []  # once only


def test_an_unchanged_check_clears_and_a_further_change_raises_again(run, zones: ZoneServer) -> None:
    run("check", *DOMAINS)
    second_zones(zones)
    run("check", *DOMAINS)
    assert len(alerts(run)["alerts"]) == 5
    run("check", *DOMAINS)  # the same records again: nothing differs between the two latest checks
    out = alerts(run)
    assert (out["alerts"], sorted(out["cleared"]), out["open"]) == ([], sorted(k for k, _, _ in EXPECTED), 0)
    change(zones, "_dmarc.weak.test", "v=DMARC1; p=quarantine; rua=mailto:dmarc@weak.test")
    run("check", "weak.test")
    (again,) = alerts(run)["alerts"]
    assert (again["key"], again["severity"], again["details"]["change"]) == (
        key("weak.test", "dmarc", "v=DMARC1; p=none; rua=mailto:dmarc@weak.test",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc@weak.test"), "warning", "changed")


@pytest.mark.parametrize(("extra", "expected"), [
    ('dns_changed_min_severity = "info"\n', EXPECTED[:4] + [STS] + EXPECTED[4:]),
    ('dns_changed_min_severity = "critical"\n', [e for e in EXPECTED if e[1] == "critical"]),
    ('dns_changed_records = ["dmarc", "dkim"]\n', [EXPECTED[0], EXPECTED[4]]),
    ("dns_changed = false\n", []),
])
def test_the_switch_and_thresholds_decide(run, zones: ZoneServer, extra: str, expected: list) -> None:
    run("check", *DOMAINS)
    second_zones(zones)
    run("check", *DOMAINS)
    out = alerts(run, extra=extra)
    assert [(a["key"], a["severity"], a["details"]["change"]) for a in out["alerts"]] == expected


@pytest.mark.parametrize(("extra", "message"), [
    ('dns_changed_records = ["dmarc", "txt"]\n', "[alerts] dns_changed_records: 'txt' is not a record type (use any "
                                                 "of dmarc, spf, dkim, mta_sts, tlsrpt, bimi)"),
    ('dns_changed_min_severity = "error"\n', "[alerts] dns_changed_min_severity must be info, warning or critical, "
                                             "not 'error'"),
])
def test_bad_settings_are_configuration_errors(run, extra: str, message: str) -> None:
    result = run("alerts", extra=extra)
    assert (result.exit_code, result.stderr) == (2, f"Error: configuration: {message}\n")
