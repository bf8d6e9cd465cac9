"""The TLS and failure kinds behind the seam: store, reprocess from what was kept, list."""

from __future__ import annotations

import io

import pytest

from dmarcflow.errors import ParseError
from dmarcflow.kinds.base import KindPayload, KindSettings, MailContext
from dmarcflow.kinds.failure_kind import FailureKind
from dmarcflow.kinds.tls_kind import TlsKind
from tests.kinds.conftest import FAILURE_FILES, TLS_FILES, tls_payload
from tests.support.kind_samples import FAILURE_DIR, TLS_DIR, arf_crlf


def _payload(data: bytes, context: MailContext | None = None) -> KindPayload:
    return KindPayload("p", lambda: io.BytesIO(data), context or MailContext())


def _store_all(store, settings=KindSettings()):
    tls, failure = TlsKind(), FailureKind()
    out = []
    for name in TLS_FILES:
        data, domain, submitter = tls_payload(TLS_DIR / name)
        out.append(tls.store(store, _payload(data, MailContext(domain, submitter)), name, settings))
    for name in FAILURE_FILES:
        out.append(failure.store(store, _payload((FAILURE_DIR / name).read_bytes()), name, settings))
    return out


def test_store_outcomes(store):
    outcomes = _store_all(store)
    assert [o.status for o in outcomes] == ["ingested"] * 14
    assert [o.records for o in outcomes] == [1, 1, 2, 1, 1, 1, 2, 2, 2, 1] + [1] * 4  # TLS: policies
    assert {o.messages for o in outcomes} == {0}
    assert [o.ips for o in outcomes[10:]] == [frozenset({"2001:db8::66"}), frozenset({"203.0.113.66"}),
                                              frozenset({"198.51.100.23"}), frozenset({"203.0.113.99"})]
    assert {o.status for o in _store_all(store)} == {"duplicate"}


def test_tls_too_large_is_refused_unread(store):
    with pytest.raises(ParseError) as err:
        TlsKind().store(store, _payload(b"{" + b" " * (9 << 20) + b"}"), "big.json", KindSettings())
    assert err.value.reason == "too_large"
    assert store.conn.execute("SELECT count(*) FROM tls_reports").fetchone()[0] == 0


def test_reprocess_rebuilds_every_kind_from_what_was_kept(store):
    _store_all(store)
    with store.transaction():
        store.conn.execute("UPDATE tls_policies SET successful = 0")
        store.conn.execute("UPDATE failure_reports SET source_ip = '0.0.0.0', subject = NULL")
        tls = TlsKind().reprocess(store, KindSettings())
        failure = FailureKind().reprocess(store, KindSettings())
    assert (tls.reports, tls.records, tls.skipped) == (10, 14, 0)
    assert (failure.reports, failure.skipped) == (4, 0)
    assert store.conn.execute("SELECT sum(successful) FROM tls_policies").fetchone()[0] == 15551
    assert store.conn.execute("SELECT count(*) FROM failure_reports WHERE source_ip = '0.0.0.0' OR subject IS NULL").fetchone()[0] == 0


def test_reprocess_uses_the_sample_when_kept(store):
    raw = arf_crlf()
    FailureKind().store(store, _payload(raw), "a.eml", KindSettings(keep_failure_samples=True))
    assert store.conn.execute("SELECT sample IS NOT NULL FROM failure_reports").fetchone()[0] == 1
    with store.transaction():
        store.conn.execute("UPDATE failure_reports SET feedback_fields = 'garbage', original_headers = ''")
        assert FailureKind().reprocess(store, KindSettings()).reports == 1
    assert store.conn.execute("SELECT subject FROM failure_reports").fetchone()[0] == "Invoice March 2026"


def test_listing(store):
    _store_all(store)
    tls = TlsKind().list_reports(store, "example.net")
    assert [(r.kind, r.org_name, r.domain, r.begin, r.schema, r.records, r.status) for r in tls] == [
        ("tls", "Kestrel Net", "example.net", "2026-03-02T00:00:00Z", "rfc8460", 2, "active"),
        ("tls", "Kestrel Net", "example.net", "2026-03-03T00:00:00Z", "rfc8460", 2, "active"),
    ]
    failures = FailureKind().list_reports(store, None)
    assert [(r.org_name, r.report_id, r.domain, r.schema) for r in failures] == [
        ("receiver.example", "<inv-2026-03@example.com>", "example.com", "rfc9991"),
        ("isp.example", "<nl-0303@bulk.example.net>", "example.net", "rfc6591"),
        ("yahoo.example", "<promo-77@example.org>", "example.org", "rfc9991"),
        ("gateway.example", "<ceo-urgent@example.com>", "example.com", "notice"),
    ]
    assert failures[0].as_dict()["kind"] == "failure"
