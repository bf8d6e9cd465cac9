"""SMTP TLS and DMARC failure reports whose free-text fields hold HTML and script (anyone can mail one)."""

from __future__ import annotations

from pathlib import Path

from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from tests.support.kind_samples import arf_mail, google_report, original_headers, tls_json
from tests.support.web import IMG, SCRIPT, SVG

HOSTILE_TLS_DOMAIN = "example.com"  # a policy domain must be a domain name: the parser refuses anything else
HOSTILE_TLS_ORG = f"Org {SCRIPT}"
HOSTILE_RESULT = "<svg onload=alert(2)>"  # a result type RFC 8460 does not list (types are lowercased)
HOSTILE_REASON = f"code{IMG}"
HOSTILE_SUBJECT = f"Invoice {SCRIPT}"
HOSTILE_FROM = f"{IMG} <alice@example.com>"
HOSTILE_HEADER = f"X-Evil: {SVG}"


def hostile_tls() -> bytes:
    report = google_report(1, failed=9)
    report["organization-name"] = HOSTILE_TLS_ORG
    report["report-id"] = f"id{IMG}"
    detail = report["policies"][0]["failure-details"][0]
    detail["result-type"] = HOSTILE_RESULT
    detail["failure-reason-code"] = HOSTILE_REASON
    return tls_json(report)


def hostile_failure() -> bytes:
    feedback = (
        "Feedback-Type: auth-failure\nUser-Agent: " + SCRIPT + "\nVersion: 1\n"
        "Arrival-Date: Mon, 02 Mar 2026 10:12:31 +0000\nSource-IP: 203.0.113.66\nReported-Domain: example.com\n"
        f"Authentication-Results: mx.receiver.example; dmarc=fail header.from=example.com {IMG}\n"
        "Auth-Failure: dmarc\nDelivery-Result: reject\n"
    )
    headers = original_headers("evil@example.com", HOSTILE_SUBJECT, "alice@example.com",
                               "Mon, 02 Mar 2026 10:12:30 +0000")
    headers = headers.replace("From: Alice Example <alice@example.com>", f"From: {HOSTILE_FROM}") + HOSTILE_HEADER + "\n"
    return arf_mail(boundary="evil", reporter="ruf@receiver.example", feedback=feedback,
                    original_part="Content-Type: text/rfc822-headers\n\n" + headers).encode()


def build_hostile_kinds_store(db: Path) -> None:
    with Store.open(db) as store:
        enricher = Enricher(EnrichmentSettings(offline=True))
        try:
            ingestor = Ingestor(store, enricher, Limits())
            outcomes = [ingestor.ingest_bytes("evil-tls.json", hostile_tls()),
                        ingestor.ingest_bytes("evil-ruf.eml", hostile_failure())]
        finally:
            enricher.close()
    assert [o.status for o in outcomes] == ["ingested", "ingested"], [o.as_dict() for o in outcomes]
