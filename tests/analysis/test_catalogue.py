"""The service catalogue: every entry recognisable and fixable; parsedmarc's names for the same services
map onto it; recognition order; shared or dedicated IPs; malformed entries refused."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from dmarcflow.analysis.catalogue import Catalogue, CatalogueError, Clues, pool_of


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


def parsedmarc_map() -> dict[str, str]:
    path = resources.files("parsedmarc.resources.maps").joinpath("base_reverse_dns_map.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["base_reverse_dns"].strip().lower(): row["name"].strip() for row in csv.DictReader(fh)}


def test_every_entry_has_recognisers_and_a_fix(catalogue):
    assert len(catalogue.services) >= 40
    for s in catalogue.services:
        assert any((s.rdns, s.dkim, s.spf, s.networks, s.as_domains)), s.name
        assert "{domain}" in s.fix and s.fix_for("example.com").count("example.com") >= 1, s.name
        assert s.pool in ("shared", "dedicated")
    names = [n.casefold() for s in catalogue.services for n in s.names]
    assert len(names) == len(set(names))


def test_parsedmarc_names_for_the_same_services_map_onto_catalogue_entries(catalogue):
    """Where parsedmarc's sender map knows a reverse-DNS domain of a catalogue service, its name for that
    domain finds the same entry, so approvals written with parsedmarc's names keep working."""
    names = parsedmarc_map()
    covered = set()
    for service in catalogue.services:
        for domain in service.rdns:
            if domain in names:
                assert catalogue.named(names[domain]) is service, (domain, names[domain], service.name)
                covered.add(service.name)
    assert len(covered) >= 40


@pytest.mark.parametrize("clues, expected", [
    (Clues("1.2.3.4", reverse_dns="o1.ptr1234.sendgrid.net", dkim_domain="amazonses.com"), "Twilio SendGrid"),
    (Clues("54.240.15.102", dkim_domain="amazonses.com", sender="Amazon", as_domain="amazon.com"), "Amazon SES"),
    (Clues("203.0.113.9", spf_domain="bounces.mtasv.net"), "Postmark"),
    (Clues("209.85.233.100", sender="Google LLC"), "Google Workspace"),
    (Clues("52.100.160.54"), "Microsoft 365"),
    (Clues("198.51.100.7", as_domain="sendgrid.com"), "Twilio SendGrid"),
    (Clues("198.51.100.7", sender="Brevo (Sendinblue)"), "Brevo"),
    (Clues("1.2.3.4", reverse_dns="mail-db8eur05on2100.outbound.protection.outlook.com"), "Microsoft 365"),
    (Clues("198.51.100.7", reverse_dns="mx1.example.com", as_domain="amazon.com", sender="Amazon"), None),
    (Clues("not an ip", sender="unknown"), None),
])
def test_recognition_order(catalogue, clues, expected):
    found = catalogue.recognise(clues)
    assert (found.name if found else None) == expected


def test_shared_or_dedicated(catalogue):
    ses = catalogue.named("Amazon SES")
    assert pool_of(ses, "example.com", Clues("54.240.1.1", reverse_dns="a1-1.smtp-out.amazonses.com")) == "shared"
    assert pool_of(None, "example.com", Clues("192.0.2.1", base_domain="example.com")) == "dedicated"
    assert pool_of(ses, "news.example.com", Clues("192.0.2.1", as_domain="example.com")) == "dedicated"
    assert pool_of(None, "example.com", Clues("192.0.2.1", base_domain="isp.example")) is None
    custom = Catalogue.from_toml(ENTRY.replace('dedicated_rdns = []', 'dedicated_rdns = ["dedicated.esp.example"]'))
    esp = custom.services[0]
    assert pool_of(esp, "example.com", Clues("192.0.2.9", reverse_dns="ip9.dedicated.esp.example")) == "dedicated"
    assert pool_of(esp, "example.com", Clues("192.0.2.9", reverse_dns="ip9.shared.esp.example")) == "shared"


ENTRY = """
[[services]]
name = "ESP"
rdns = ["esp.example"]
custom_dkim = true
custom_return_path = false
pool = "shared"
dedicated_rdns = []
fix = "In ESP, authenticate {domain}"
"""


@pytest.mark.parametrize("change, message", [
    (('rdns = ["esp.example"]', ''), "service 'ESP': needs at least one recogniser (rdns, as_domains, dkim, spf, networks)"),
    (('fix = "In ESP, authenticate {domain}"', 'fix = "In ESP, authenticate"'),
     "service 'ESP': fix must name the customer's domain as {domain}"),
    (('pool = "shared"', 'pool = "mine"'), "service 'ESP': pool must be one of shared, dedicated"),
    (('custom_dkim = true', 'custom_dkim = "yes"'), "service 'ESP': custom_dkim must be true or false"),
    (('rdns = ["esp.example"]', 'rdns = ["esp.example"]\nnetworks = ["192.0.2.0/33"]'),
     "service 'ESP': networks: '192.0.2.0/33' is not a CIDR network"),
    (('pool = "shared"', 'pool = "shared"\ncolour = "blue"'), "service 'ESP': unknown key(s) colour"),
])
def test_malformed_entries_are_refused(change, message):
    with pytest.raises(CatalogueError) as info:
        Catalogue.from_toml(ENTRY.replace(*change))
    assert str(info.value) == message


def test_duplicate_names_and_overlapping_networks_are_refused():
    twice = ENTRY + ENTRY.replace('name = "ESP"', 'name = "Other"\nalso_known_as = ["esp"]')
    with pytest.raises(CatalogueError, match="names esp more than once"):
        Catalogue.from_toml(twice)
    overlap = (ENTRY.replace('rdns = ["esp.example"]', 'networks = ["192.0.2.0/24"]')
               + ENTRY.replace('name = "ESP"', 'name = "Other"').replace('rdns = ["esp.example"]', 'networks = ["192.0.2.128/25"]'))
    with pytest.raises(CatalogueError, match="the networks of ESP and Other overlap"):
        Catalogue.from_toml(overlap)
