"""Search documents of the TLS and failure kinds: deterministic ids, ECS names, every field mapped."""

from __future__ import annotations

from typing import Any

from dmarcflow.index import failures as failure_index
from dmarcflow.index import tls as tls_index
from dmarcflow.store.failures import failure_index_rows
from dmarcflow.store.tls import tls_index_rows
from tests.kinds.test_failure_parse import BODY_TEXTS


def _unmapped(doc: dict[str, Any], mapping: dict[str, Any], path: str = "") -> list[str]:
    """Fields of the document the strict mapping does not declare (what the engine would refuse)."""
    missing = []
    props = mapping.get("properties", {})
    for key, value in doc.items():
        where = f"{path}{key}"
        if key not in props:
            missing.append(where)
        elif isinstance(value, dict):
            missing += _unmapped(value, props[key], where + ".")
    return missing


def test_tls_documents(kinds_store):
    rows = tls_index_rows(kinds_store, 0, 1000)
    docs = [d for row in rows for d in tls_index.documents(row)]
    assert len(rows) == 14 and len(docs) == 14 + 12  # a document per policy and per failure detail
    assert len({doc_id for doc_id, _ in docs}) == len(docs)
    assert [d for _, doc in docs for d in _unmapped(doc, tls_index.mappings())] == []
    assert sum(doc["tlsrpt"]["sessions"]["successful"] for _, doc in docs if "sessions" in doc["tlsrpt"]) == 15551
    assert sum(doc["tlsrpt"]["failure"]["sessions"] for _, doc in docs if "failure" in doc["tlsrpt"]) == 113
    google = next(doc for _, doc in docs if doc["tlsrpt"]["report"]["id"] == "2026-03-01T00:00:00Z_example.com"
                  and "failure" in doc["tlsrpt"])
    assert {k: google[k] for k in ("@timestamp", "source", "destination", "tls", "related")} == {
        "@timestamp": "2026-03-01T00:00:00Z", "source": {"ip": "209.85.220.41"},
        "destination": {"domain": "mx1.example.com", "ip": "192.0.2.10"}, "tls": {"established": False},
        "related": {"ip": ["192.0.2.10", "209.85.220.41"], "hosts": ["example.com", "mx1.example.com"]},
    }
    assert google["event"]["dataset"] == "tlsrpt.failure" and google["event"]["outcome"] == "failure"
    assert google["tlsrpt"]["failure"] == {"result_type": "certificate-expired", "sessions": 37, "position": 0}
    again = [d for row in tls_index_rows(kinds_store, 0, 1000) for d in tls_index.documents(row)]
    assert [i for i, _ in again] == [i for i, _ in docs]
    from dmarcflow.index.feed import index_of

    assert index_of(tls_index.TlsFeed(), rows[0], "dmarcflow", "month") == "dmarcflow-tls-2026.03"


def test_failure_documents(kinds_store):
    rows = failure_index_rows(kinds_store, 0, 100)
    docs = [failure_index.document(r) for r in rows]
    assert len(docs) == 4 and len({i for i, _ in docs}) == 4
    assert [d for _, doc in docs for d in _unmapped(doc, failure_index.mappings())] == []
    first = docs[1][1]  # email-arf-crlf-rfc822.eml
    assert first["source"] == {"ip": "203.0.113.66"}
    assert first["email"] == {"from": {"address": ["alice@example.com"]}, "to": {"address": ["bob@receiver.example"]},
                              "subject": "Invoice March 2026", "message_id": "<inv-2026-03@example.com>",
                              "delivery_timestamp": "2026-03-02T10:12:31Z"}
    assert first["dmarc"]["failure"]["auth_results"] == {"dmarc": "fail", "spf": "fail", "dkim": "fail"}
    assert first["dmarc"]["failure"]["identity_alignment"] == ["none"]
    assert [t for t in BODY_TEXTS if t in repr(docs)] == []
    assert [r.report.id for r in failure_index_rows(kinds_store, 2, 1)] == [3]
