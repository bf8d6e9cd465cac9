"""The approved-senders list: matching by service, network and reverse DNS; config errors."""

from __future__ import annotations

import pytest

from dmarcflow.analysis import list_sources, summarise
from dmarcflow.config import ApprovedSenders
from dmarcflow.errors import ConfigError
from tests.support.analysis_data import feedback, ingest_payloads, rec

RDNS = {
    "167.89.10.20": "o1.ptr1234.sendgrid.net",
    "198.2.130.5": "mail20.suw11.mcdlv.net",
    "203.0.113.5": "relay.partner-mail.net",
}
APPROVED = {"example.com": ApprovedSenders(services=("twilio SENDGRID",), networks=("192.0.2.16/28",),
                                           rdns_domains=("partner-mail.net",))}
CONFIG = """
[approved."example.com"]
services = ["twilio SENDGRID"]
networks = ["192.0.2.16/28"]
rdns_domains = ["partner-mail.net"]
"""


@pytest.fixture
def approved_store(db_path):
    records = [
        rec("203.0.113.5", 500, "example.com", dkim=(("example.com", "pass"),), spf=("example.com", "pass"),
            evaluated=("pass", "pass")),
        rec("167.89.10.20", 120, "example.com", dkim=(("sendgrid.net", "pass"),), spf=("em1.sendgrid.net", "pass")),
        rec("198.2.130.5", 80, "example.com", dkim=(("mcsv.net", "pass"),), spf=("mail20.suw11.mcdlv.net", "pass")),
        rec("192.0.2.20", 30, "example.com", spf=("example.com", "fail")),
        rec("198.51.100.66", 25, "example.com", spf=("example.com", "softfail"), dkim=(("example.com", "fail"),)),
    ]
    outcomes = ingest_payloads(db_path, [feedback(records, domain="example.com")], RDNS)
    assert [o.status for o in outcomes] == ["ingested"]
    return db_path


def test_each_kind_of_entry_approves_its_sources(approved_store, open_store):
    sources = list_sources(open_store(approved_store), "example.com", approved=APPROVED)
    got = [(s.ip, s.sender, s.klass, s.approved_by, s.verdict) for s in sources]
    assert got == [
        ("203.0.113.5", "partner-mail.net", "authorised", "reverse DNS partner-mail.net", "ok"),
        ("167.89.10.20", "Twilio SendGrid", "misconfigured", "service Twilio SendGrid", "approved but failing: fix its setup"),
        ("198.2.130.5", "Intuit Mailchimp", "misconfigured", None,
         "may be yours: approve it and fix it, or mark it not ours"),
        ("192.0.2.20", "192.0.2.20", "unauthorised", "network 192.0.2.16/28", "approved but failing: fix its setup"),
        ("198.51.100.66", "198.51.100.66", "unauthorised", None, "impostor candidate"),
    ]
    assert sources[1].explanation == (
        "SPF passed for em1.sendgrid.net, not aligned with example.com (aspf=r); "
        "DKIM signed by sendgrid.net, not aligned with example.com (adkim=r)")


def test_readiness_counts_approved_sources_as_legitimate(approved_store, open_store):
    (s,) = summarise(open_store(approved_store), ["example.com"], approved=APPROVED)
    r = s.readiness
    assert (r.legitimate_messages, r.legitimate_failing) == (650, 150)
    assert (r.quarantine.quarantined, r.quarantine.share) == (150, 0.230769)
    assert r.approved_failing == ("192.0.2.20", "Twilio SendGrid")
    assert r.unknown_misconfigured == ("Intuit Mailchimp",)
    assert r.recommendation == (
        "Not ready for p=quarantine: 3 senders that may be yours fail DMARC: Twilio SendGrid (120 messages, fails "
        "DKIM alignment), Intuit Mailchimp (80 messages, fails DKIM alignment), 192.0.2.20 (30 messages, fails SPF "
        "and DKIM)")
    assert r.notes == (
        'Not on the approved list: Intuit Mailchimp (80 messages); approve what is yours and fix it, mark the rest '
        'not ours (services and not_ours under [approved."example.com"]; `dmarcflow senders example.com` prints '
        'the lines)',
        "Receivers delivered all 25 impostor message(s); under p=quarantine receivers would be asked to quarantine "
        "the delivered ones")
    assert [u.ip for u in s.unauthorised] == ["192.0.2.20", "198.51.100.66"]


def test_without_a_list_nothing_is_approved(approved_store, open_store):
    (s,) = summarise(open_store(approved_store), ["example.com"])
    assert [src.approved for src in s.sources] == [False] * 5
    assert (s.readiness.legitimate_messages, s.readiness.legitimate_failing) == (500, 0)


def test_the_list_of_the_organisational_domain_covers_a_subdomain_policy(db_path, open_store):
    ingest_payloads(db_path, [feedback([rec("192.0.2.20", 4, "news.example.com", spf=("x.example", "fail"))],
                                       domain="news.example.com")])
    (source,) = list_sources(open_store(db_path), "news.example.com", approved=APPROVED)
    assert source.approved_by == "network 192.0.2.16/28"


def test_the_cli_reads_the_list_from_the_config_file(approved_store, tmp_path, run_json):
    config = tmp_path / "dmarcflow.toml"
    config.write_text(CONFIG)
    out = run_json("--config", config, "--db", approved_store, "senders", "example.com", "--format", "json")
    assert [(s["ip"], s["approved_by"]) for s in out["sources"]] == [
        ("203.0.113.5", "reverse DNS partner-mail.net"), ("167.89.10.20", "service Twilio SendGrid"),
        ("198.2.130.5", None), ("192.0.2.20", "network 192.0.2.16/28"), ("198.51.100.66", None)]


@pytest.mark.parametrize("entry, message", [
    ('rdns_domains = ["*.sendgrid.net"]',
     "[approved.\"example.com\"] rdns_domains: '*.sendgrid.net' is not a domain name "
     "(use the base domain, e.g. sendgrid.net; no wildcards or URLs)"),
    ('rdns_domains = ["https://sendgrid.net"]',
     "[approved.\"example.com\"] rdns_domains: 'https://sendgrid.net' is not a domain name "
     "(use the base domain, e.g. sendgrid.net; no wildcards or URLs)"),
    ('services = ["  "]',
     "[approved.\"example.com\"] services: an entry is empty (use the service name, e.g. \"SendGrid\")"),
    ('networks = ["192.0.2.0/33"]',
     "[approved.\"example.com\"] networks: '192.0.2.0/33' is not an IP network (use CIDR, e.g. 192.0.2.0/24)"),
    ('netwrks = ["192.0.2.0/24"]', "[approved.example.com] unknown key(s): netwrks"),
])
def test_malformed_entries_are_config_errors(approved_store, tmp_path, cli, entry, message):
    config = tmp_path / "dmarcflow.toml"
    config.write_text(f'[approved."example.com"]\n{entry}\n')
    for command in (["summary"], ["senders", "example.com"]):
        result = cli("--config", config, "--db", approved_store, *command)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"Error: configuration: {message}\n")


def test_malformed_entries_fail_in_the_library_too(approved_store, open_store):
    bad = {"example.org": ApprovedSenders(rdns_domains=("bad domain",))}
    with pytest.raises(ConfigError, match="rdns_domains: 'bad domain' is not a domain name"):
        summarise(open_store(approved_store), ["example.com"], approved=bad)
