"""IP facts: local database, service map, and reverse DNS against a real DNS server on loopback."""

from __future__ import annotations

import dns.reversename
import pytest

from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from tests.support.dns_server import PtrServer
from tests.support.report_xml import record, report

GOOGLE_IP = "209.85.220.41"
SPOOFER_IP = "203.0.113.77"  # TEST-NET-3: in no database, no PTR


def ptr(ip: str) -> str:
    return str(dns.reversename.from_address(ip)).rstrip(".")


@pytest.fixture
def dns_server():
    names = {ptr(GOOGLE_IP): "mail-sor-f41.google.com.", ptr("167.89.1.2"): "o1.ptr1234.sendgrid.net."}
    with PtrServer(names) as server:
        yield server


def online(server: PtrServer) -> Enricher:
    return Enricher(EnrichmentSettings(nameservers=("127.0.0.1",), dns_port=server.port, dns_timeout=2.0))


def test_offline_facts_come_from_the_local_database(offline_enricher):
    facts = offline_enricher.facts(GOOGLE_IP)
    assert (facts.asn, facts.as_name, facts.as_domain) == (15169, "Google LLC", "google.com")
    assert facts.sender == "Google (Including Gmail and Google Workspace)"
    assert (facts.reverse_dns, facts.rdns_checked) == (None, False)
    unknown = offline_enricher.facts(SPOOFER_IP)
    assert (unknown.asn, unknown.sender, unknown.country) == (None, SPOOFER_IP, None)


def test_reverse_dns_names_the_service(dns_server):
    enricher = online(dns_server)
    try:
        facts = {f.ip: f for f in enricher.facts_many([GOOGLE_IP, "167.89.1.2", SPOOFER_IP])}
    finally:
        enricher.close()
    assert (facts[GOOGLE_IP].reverse_dns, facts[GOOGLE_IP].base_domain) == ("mail-sor-f41.google.com", "google.com")
    assert facts["167.89.1.2"].base_domain == "sendgrid.net"
    assert facts["167.89.1.2"].sender == "Twilio SendGrid"
    assert (facts[SPOOFER_IP].reverse_dns, facts[SPOOFER_IP].rdns_checked) == (None, True)


def test_lookups_are_cached(dns_server):
    enricher = online(dns_server)
    try:
        enricher.facts_many([GOOGLE_IP, GOOGLE_IP])
        enricher.facts_many([GOOGLE_IP])
    finally:
        enricher.close()
    assert dns_server.table.queries == [ptr(GOOGLE_IP) + "."]


def test_ingest_stores_facts_once_per_ip_and_fills_rdns_later(dns_server, store, offline_enricher):
    body = record(ip=GOOGLE_IP) + record(ip=GOOGLE_IP, count="5") + record(ip=SPOOFER_IP, dkim="fail", spf="fail", dkim_eval="fail", spf_eval="fail")
    Ingestor(store, offline_enricher, Limits()).ingest_bytes("a.xml", report(body))
    rows = store.conn.execute("SELECT ip, reverse_dns, rdns_checked FROM ip_info ORDER BY ip").fetchall()
    assert rows == [(SPOOFER_IP, None, 0), (GOOGLE_IP, None, 0)]
    enricher = online(dns_server)
    try:
        Ingestor(store, enricher, Limits()).ingest_bytes("b.xml", report(body, report_id="r-2"))
    finally:
        enricher.close()
    rows = store.conn.execute("SELECT ip, reverse_dns, rdns_checked FROM ip_info ORDER BY ip").fetchall()
    assert rows == [(SPOOFER_IP, None, 1), (GOOGLE_IP, "mail-sor-f41.google.com", 1)]


def test_dns_timeout_does_not_fail_the_ingest(store):
    # a port where nothing answers: the lookup times out and the report is still stored
    from tests.support.dns_server import free_udp_port

    enricher = Enricher(EnrichmentSettings(nameservers=("127.0.0.1",), dns_port=free_udp_port(), dns_timeout=0.3))
    try:
        outcome = Ingestor(store, enricher, Limits()).ingest_bytes("a.xml", report(record(ip=GOOGLE_IP)))
    finally:
        enricher.close()
    assert outcome.status == "ingested"
    assert store.conn.execute("SELECT reverse_dns, rdns_checked FROM ip_info").fetchall() == [(None, 1)]
