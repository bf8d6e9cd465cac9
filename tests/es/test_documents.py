"""Documents, ids, index names and the outbox, without a search engine (real SQLite stores)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dmarcflow.errors import ConfigError
from dmarcflow.index import mapping, outbox
from dmarcflow.index.document import IndexRow, IpPart, ReportPart, document_id, report_uid, to_document
from dmarcflow.store import Store
from tests.es.conftest import ingest_dataset

REPORT = ReportPart(
    org_name="google.com", report_id="r-1", domain="example.com", begin_ts=1772323200, end_ts=1772409599,
    email="noreply@google.com", extra_contact_info=None, generator=None, errors="[]", schema="rfc7489",
    records_hash="abc", status="active", adkim="r", aspf="s", p="reject", sp=None, np=None, pct=100, fo="0",
    testing=None, discovery_method=None, defaults_applied='["sp"]',
)
ROW = IndexRow(
    record_id=7, position=3, source_ip="192.0.2.10", count=12, disposition="none", dkim_eval="pass", spf_eval="fail",
    header_from="example.com", envelope_from="bounce.example.com", envelope_to=None,
    reasons='[{"type": "forwarded", "comment": "list"}]',
    dkim='[{"domain": "example.com", "selector": "s1", "result": "pass", "human_result": null}]',
    spf='[{"domain": "bounce.example.com", "scope": "mfrom", "result": "fail", "human_result": null}]',
    dmarc_pass=True, dkim_aligned=True, spf_aligned=False, dkim_domain="example.com", spf_domain=None,
    source_class="forwarded", report=REPORT,
    ip=IpPart(reverse_dns="mx.lists.example.org", base_domain="example.org", country="NL", asn=64500,
              as_name="Example AS", sender="example.org", sender_type=None),
    ingested_at="2026-03-02T10:00:00Z",
)


def test_document_has_ecs_fields_and_dmarc_object() -> None:
    assert to_document(ROW) == {
        "@timestamp": "2026-03-01T00:00:00Z",
        "ecs": {"version": "8.11.0"},
        "event": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T23:59:59Z", "kind": "event",
                  "category": ["email"], "type": ["info"], "dataset": "dmarc.aggregate", "module": "dmarc",
                  "ingested": "2026-03-02T10:00:00Z", "sequence": 7},
        "source": {"ip": "192.0.2.10", "domain": "mx.lists.example.org", "registered_domain": "example.org",
                   "geo": {"country_iso_code": "NL"}, "as": {"number": 64500, "organization": {"name": "Example AS"}}},
        "related": {"ip": ["192.0.2.10"],
                    "hosts": ["bounce.example.com", "example.com", "mx.lists.example.org"]},
        "dmarc": {
            "report": {"uid": report_uid(REPORT), "id": "r-1", "org_name": "google.com",
                       "org_email": "noreply@google.com", "begin": "2026-03-01T00:00:00Z",
                       "end": "2026-03-01T23:59:59Z", "status": "active", "schema": "rfc7489",
                       "defaults_applied": ["sp"]},
            "policy_published": {"domain": "example.com", "p": "reject", "pct": 100, "adkim": "r", "aspf": "s",
                                 "fo": "0"},
            "policy_evaluated": {"disposition": "none", "dkim": "pass", "spf": "fail",
                                 "reasons": [{"type": "forwarded", "comment": "list"}], "reasons_key": "forwarded"},
            "pass": True,
            "aligned": {"dkim": True, "spf": False, "dkim_domain": "example.com"},
            "identifiers": {"header_from": "example.com", "envelope_from": "bounce.example.com"},
            "auth_results": {"dkim": [{"domain": "example.com", "selector": "s1", "result": "pass"}],
                             "spf": [{"domain": "bounce.example.com", "scope": "mfrom", "result": "fail"}]},
            "auth_summary": {"dkim": "pass", "spf": "fail"},
            "count": 12, "position": 3, "sender": "example.org", "class": "forwarded",
            "explanation": "forwarded: the receiver reported a forwarded override; SPF fail; DKIM signed by "
                           "example.com, aligned with example.com",
        },
    }


def test_reasons_stored_as_pairs_are_read_too() -> None:
    from dataclasses import replace

    doc = to_document(replace(ROW, reasons='[["mailing_list", null], ["local_policy", "x"]]'))
    assert doc["dmarc"]["policy_evaluated"]["reasons"] == [{"type": "mailing_list"}, {"type": "local_policy", "comment": "x"}]
    assert doc["dmarc"]["policy_evaluated"]["reasons_key"] == "local_policy,mailing_list"


def test_every_document_field_is_in_the_strict_mapping(seeded_store: Store) -> None:
    known = set(_mapped_paths(mapping.mappings()["properties"]))
    used: set[str] = set()
    for row in outbox.pending(seeded_store, "t", 0, 100_000):
        used |= set(_leaf_paths(to_document(row)))
    assert used - known == set()
    assert mapping.mappings()["dynamic"] == "strict"


def _mapped_paths(props: dict, prefix: str = ""):
    for name, spec in props.items():
        if "properties" in spec:
            yield from _mapped_paths(spec["properties"], f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def _leaf_paths(doc, prefix: str = ""):
    if isinstance(doc, list):
        for item in doc:
            yield from _leaf_paths(item, prefix)
    elif isinstance(doc, dict):
        for name, value in doc.items():
            yield from _leaf_paths(value, f"{prefix}{name}.")
    else:
        yield prefix[:-1]


def test_ids_are_deterministic_and_tell_conflicting_versions_apart(seeded_store: Store) -> None:
    rows = outbox.pending(seeded_store, "t", 0, 100_000)
    ids = [document_id(r) for r in rows]
    assert len(set(ids)) == len(rows) == 624
    assert ids == [document_id(r) for r in outbox.pending(seeded_store, "t", 0, 100_000)]
    # The conflicting second version of report 0 shares its identity but not its ids.
    conflict = [r for r in rows if r.report.status == "conflict"]
    first = [r for r in rows if r.report.report_id == conflict[0].report.report_id and r.report.status == "active"]
    assert len(conflict) == 24 and len(first) == 25
    assert {document_id(r) for r in conflict}.isdisjoint(document_id(r) for r in first)


def test_two_stores_with_the_same_reports_produce_the_same_ids(dataset, seeded_store: Store, tmp_path: Path) -> None:
    """Two daemons, each with its own store, feed one cluster without duplicates."""
    other = tmp_path / "other.sqlite"
    ingest_dataset(other, dataset)
    with Store.open(other) as second:
        theirs = {document_id(r) for r in outbox.pending(second, "t", 0, 100_000)}
    assert theirs == {document_id(r) for r in outbox.pending(seeded_store, "t", 0, 100_000)}


@pytest.mark.parametrize(("period", "name"), [
    ("day", "dmarcflow-2026.03.05"), ("month", "dmarcflow-2026.03"), ("year", "dmarcflow-2026"),
])
def test_index_names_follow_the_period_of_the_report(period: str, name: str) -> None:
    assert mapping.index_name("dmarcflow", period, 1772668800 + 3600) == name  # 2026-03-05T01:00Z


def test_expired_indices_are_those_whose_whole_period_is_past_retention() -> None:
    names = ["dmarcflow-2026.01", "dmarcflow-2026.02", "dmarcflow-2026.03", "dmarcflow-x-2026.01", "other"]
    now = datetime(2026, 4, 10, tzinfo=timezone.utc)
    assert mapping.expired_indices("dmarcflow", "month", names, 40, now) == ["dmarcflow-2026.01", "dmarcflow-2026.02"]
    assert mapping.expired_indices("dmarcflow", "month", names, 0, now) == []


@pytest.mark.parametrize("prefix", ["DMARC", "-x", "_x", "a b", ""])
def test_invalid_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ConfigError, match="index_prefix"):
        mapping.check_prefix(prefix)


def test_template_composes_the_two_components() -> None:
    assert mapping.index_template("dmarcflow") == {
        "index_patterns": ["dmarcflow-*"], "composed_of": ["dmarcflow-mappings", "dmarcflow-settings"],
        "priority": 200, "version": mapping.TEMPLATE_VERSION, "_meta": {"managed_by": "dmarcflow"},
    }


def test_target_name_never_carries_credentials() -> None:
    assert outbox.target_name("https://elastic:s3cret@es.example:9243", "dmarcflow") == "es.example:9243/dmarcflow"
    assert outbox.target_name("http://localhost", "p") == "localhost:9200/p"


def test_checkpoint_only_moves_forward_and_backlog_counts(seeded_store: Store) -> None:
    with seeded_store.transaction():
        outbox.advance(seeded_store, "t", 300)
        outbox.advance(seeded_store, "t", 100)
    assert outbox.checkpoint(seeded_store, "t") == 300
    assert outbox.backlog(seeded_store, "t") == outbox.Backlog("t", 300, 624, 324, 0)
    assert outbox.backlog(seeded_store, "other") == outbox.Backlog("other", 0, 624, 624, 0)


def test_a_pass_stops_before_a_record_still_waiting_for_enrichment(seeded_store: Store) -> None:
    conn = seeded_store.conn
    ip = conn.execute("SELECT source_ip FROM records WHERE id = 11").fetchone()[0]
    first_use = conn.execute("SELECT min(id) FROM records WHERE source_ip = ?", (ip,)).fetchone()[0]
    conn.execute("DELETE FROM ip_info WHERE ip = ?", (ip,))
    ingested = datetime.strptime(conn.execute("SELECT max(ingested_at) FROM reports").fetchone()[0],
                                 "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    soon = ingested + timedelta(minutes=1)
    rows = outbox.pending(seeded_store, "t", 0, 1000, now=soon)
    assert [r.record_id for r in rows] == list(range(1, first_use))
    late = outbox.pending(seeded_store, "t", 0, 1000, now=ingested + outbox.ENRICHMENT_GRACE + timedelta(seconds=1))
    assert len(late) == 624
    assert to_document(late[first_use - 1])["source"] == {"ip": ip}


def test_parked_failures_are_counted_and_cleared(seeded_store: Store) -> None:
    with seeded_store.transaction():
        outbox.park_failures(seeded_store, "t", [outbox.Failure(5, 400, "bad", 1), outbox.Failure(9, 400, "bad", 1)])
        outbox.park_failures(seeded_store, "t", [outbox.Failure(5, 400, "worse", 1)])
    assert outbox.failures(seeded_store, "t") == [outbox.Failure(5, 400, "worse", 2), outbox.Failure(9, 400, "bad", 1)]
    with seeded_store.transaction():
        outbox.clear_failures(seeded_store, "t", [5])
    assert outbox.backlog(seeded_store, "t").failed == 1


def test_records_json_matches_the_store_columns(seeded_store: Store) -> None:
    row = outbox.pending(seeded_store, "t", 0, 1)[0]
    stored = seeded_store.conn.execute("SELECT count, source_ip, class FROM records WHERE id = 1").fetchone()
    doc = to_document(row)
    assert (doc["dmarc"]["count"], doc["source"]["ip"], doc["dmarc"]["class"]) == stored
