"""The TLS and failure kinds behind the seam: store, reprocess from what was kept, list."""

from __future__ import annotations

import io

import pytest

from dmarcflow.errors import ParseError, StoreError
from dmarcflow.kinds.base import KindSettings, Payload
from dmarcflow.kinds.failure_kind import FailureKind
from dmarcflow.kinds.registry import ENTRIES, MAIL_HEADERS, NAMES, SHAPES, kind_named, kinds
from dmarcflow.kinds.tls_kind import TlsKind
from dmarcflow.store.browse import ReportFilter
from tests.kinds.conftest import FAILURE_FILES, TLS_FILES, tls_payload
from tests.support.kind_samples import FAILURE_DIR, TLS_DIR, arf_crlf


def _payload(data: bytes, kind: str, headers: tuple[tuple[str, str], ...] = (), warnings: tuple[str, ...] = ()) -> Payload:
    return Payload("p", kind, lambda _: io.BytesIO(data), warnings, None, headers)


def _store_all(store, settings=KindSettings()):
    tls, failure = TlsKind(), FailureKind()
    out = []
    for name in TLS_FILES:
        data, domain, submitter = tls_payload(TLS_DIR / name)
        headers = tuple((k, v) for k, v in (("tls-report-domain", domain), ("tls-report-submitter", submitter)) if v)
        out.append(tls.store(store, _payload(data, "tls", headers), name, settings))
    for name in FAILURE_FILES:
        out.append(failure.store(store, _payload((FAILURE_DIR / name).read_bytes(), "failure"), name, settings))
    return out


def test_the_registry_names_every_kind_once():
    assert NAMES == ("aggregate", "tls", "failure")
    assert SHAPES == {"xml": "aggregate", "json": "tls"}
    assert [kind_named(n).name for n in NAMES] == list(NAMES)
    assert [k.feed.kind for k in kinds()] == list(NAMES)
    with pytest.raises(KeyError):
        kind_named("forensic")


def test_each_registry_entry_says_what_its_kind_says():
    # The registry answers shapes and mail headers without importing the kinds: its entries must agree
    # with the classes that are imported once a report of the kind turns up.
    for entry, kind in zip(ENTRIES, kinds(), strict=True):
        assert (entry.name, entry.shapes, entry.mail_headers) == (kind.name, kind.shapes, kind.mail_headers)
        assert type(kind).__module__ == entry.module
    assert MAIL_HEADERS == ("tls-report-domain", "tls-report-submitter")


def test_store_outcomes(store):
    outcomes = _store_all(store)
    assert [o.status for o in outcomes] == ["ingested"] * 14
    assert [o.records for o in outcomes] == [1, 1, 2, 1, 1, 1, 2, 2, 2, 1] + [1] * 4  # TLS: policies
    assert {o.messages for o in outcomes} == {0}
    assert [o.marked_ips for o in outcomes[10:]] == [True] * 4  # failure source IPs wait for their facts
    assert store.conn.execute("SELECT ip FROM ip_pending ORDER BY ip").fetchall() == [
        ("198.51.100.23",), ("2001:db8::66",), ("203.0.113.66",), ("203.0.113.99",)]
    assert {o.status for o in _store_all(store)} == {"duplicate"}


def test_container_quirks_are_kept_with_the_report(store):
    data, _, _ = tls_payload(TLS_DIR / "microsoft.com!example.org!1772323200!1772409599!ms.json")
    TlsKind().store(store, _payload(data, "tls", warnings=("bare_zlib",)), "m.json", KindSettings())
    assert store.conn.execute("SELECT warnings FROM tls_reports").fetchone()[0] == '["bare_zlib", "missing_sending_mta_ip"]'


def test_tls_too_large_is_refused_unread(store):
    with pytest.raises(ParseError) as err:
        TlsKind().store(store, _payload(b"{" + b" " * (9 << 20) + b"}", "tls"), "big.json", KindSettings())
    assert err.value.reason == "too_large"
    assert store.conn.execute("SELECT count(*) FROM tls_reports").fetchone()[0] == 0


def test_reprocess_rebuilds_every_kind_from_what_was_kept(store):
    _store_all(store)
    with store.transaction():
        store.conn.execute("UPDATE tls_policies SET successful = 0")
        store.conn.execute("UPDATE failure_reports SET source_ip = '0.0.0.0', subject = NULL")
        tls = TlsKind().reprocess(store)
        failure = FailureKind().reprocess(store)
    assert (tls.reports, tls.records, tls.skipped) == (10, 14, 0)
    assert (failure.reports, failure.skipped) == (4, 0)
    assert store.conn.execute("SELECT sum(successful) FROM tls_policies").fetchone()[0] == 15551
    assert store.conn.execute("SELECT count(*) FROM failure_reports WHERE source_ip = '0.0.0.0' OR subject IS NULL").fetchone()[0] == 0


def test_reprocess_uses_the_sample_when_kept(store):
    FailureKind().store(store, _payload(arf_crlf(), "failure"), "a.eml", KindSettings(keep_failure_samples=True))
    assert store.conn.execute("SELECT sample IS NOT NULL FROM failure_reports").fetchone()[0] == 1
    with store.transaction():
        store.conn.execute("UPDATE failure_reports SET feedback_fields = 'garbage', original_headers = ''")
        assert FailureKind().reprocess(store).reports == 1
    assert store.conn.execute("SELECT subject FROM failure_reports").fetchone()[0] == "Invoice March 2026"


def test_reprocess_of_a_report_that_no_longer_reads_names_it(store):
    FailureKind().store(store, _payload(arf_crlf(), "failure"), "a.eml", KindSettings())
    with pytest.raises(StoreError) as err, store.transaction():
        store.conn.execute("UPDATE failure_reports SET feedback_fields = 'Feedback-Type: abuse\n'")
        FailureKind().reprocess(store)
    assert str(err.value) == ("reprocess: failure report 1 no longer reads (not_a_report: a feedback report of type "
                              "'abuse', not a DMARC failure report (auth-failure)); nothing was changed")
    assert store.conn.execute("SELECT feedback_fields LIKE 'Feedback-Type: auth-failure%' FROM failure_reports").fetchone()[0] == 1


def test_listing(store):
    _store_all(store)
    tls = TlsKind().list_reports(store, ReportFilter(domain="example.net"))
    assert [(r.kind, r.org_name, r.domain, r.begin, r.schema, r.records, r.status) for r in tls] == [
        ("tls", "Kestrel Net", "example.net", "2026-03-02T00:00:00Z", "rfc8460", 2, "active"),
        ("tls", "Kestrel Net", "example.net", "2026-03-03T00:00:00Z", "rfc8460", 2, "active"),
    ]
    assert len(TlsKind().list_reports(store, ReportFilter(), limit=3, offset=8)) == 2
    failures = FailureKind().list_reports(store, ReportFilter())
    assert [(r.org_name, r.report_id, r.domain, r.schema) for r in failures] == [
        ("receiver.example", "<inv-2026-03@example.com>", "example.com", "rfc9991"),
        ("isp.example", "<nl-0303@bulk.example.net>", "example.net", "rfc6591"),
        ("yahoo.example", "<promo-77@example.org>", "example.org", "rfc9991"),
        ("gateway.example", "<ceo-urgent@example.com>", "example.com", "notice"),
    ]
    assert failures[0].as_dict()["kind"] == "failure"
    assert list(failures[0].as_dict())[-2:] == ["kind", "warnings"]
