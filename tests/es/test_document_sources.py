"""A sync reads ``record_rows`` and each verdict once; its documents equal those built from the ``records`` view.

Real SQLite stores (the seeded dataset, mixed schemas, plus verdicts written here that the generator does
not make: NULL identifiers and aligned domains, reasons stored as pairs, no auth results at all). The
reference is the view row by row, each document built on its own (nothing shared); the sync's side is one
pass's feed (``for_pass``): shared parts, verdicts cached across chunks. Bytes are compared as the client
serialises them (orjson).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from dmarcflow.index import document, outbox
from dmarcflow.index.document import IndexRow, document_id, to_document
from dmarcflow.index.feed import AggregateFeed
from dmarcflow.store import Store

VERDICT_FIELDS = ("disposition", "dkim_eval", "spf_eval", "header_from", "envelope_from", "envelope_to", "reasons",
                  "dkim", "spf", "dmarc_pass", "dkim_aligned", "spf_aligned", "dkim_domain", "spf_domain",
                  "source_class")
_VIEW_SQL = ("SELECT id, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, "
             "spf, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class FROM records ORDER BY id")
ODD_VERDICTS = [
    # (disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf,
    #  dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class)
    ("quarantine", "fail", "fail", "Example.COM", None, None, '[["mailing_list", null], ["local_policy", "x"]]',
     "[]", "[]", 0, 0, 0, None, None, "forwarded"),
    ("none", "pass", "fail", "example.com", "Bounce.Example.com", "rcpt.example.net", "[]",
     '[{"domain": "Example.com", "selector": null, "result": "pass", "human_result": "ok"}]',
     '[{"domain": "bounce.example.com", "scope": null, "result": "softfail", "human_result": null}]',
     1, 1, 0, "example.com", None, "authorised"),
    ("reject", "fail", "pass", "example.org", "", None, '[{"type": "sampled_out", "comment": null}]',
     '[{"domain": "a.example", "selector": "s", "result": "fail", "human_result": null}, '
     '{"domain": "example.org", "selector": "t", "result": "pass", "human_result": null}]',
     '[{"domain": "example.org", "scope": "mfrom", "result": "pass", "human_result": null}]',
     1, 0, 1, None, "example.org", "unauthorised"),
]


def _add_odd_records(store: Store) -> int:
    """The verdicts above, each on records of two different reports; returns the records added."""
    conn = store.conn
    reports = [r[0] for r in conn.execute("SELECT id FROM reports ORDER BY id LIMIT 2")]
    ips = [r[0] for r in conn.execute("SELECT ip FROM ip_info ORDER BY ip LIMIT 3")]
    added = 0
    with store.transaction():
        for n, verdict in enumerate(ODD_VERDICTS):
            cur = conn.execute(
                "INSERT INTO verdicts (disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, "
                "reasons, dkim, spf, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", verdict)
            for report in reports:
                conn.execute("INSERT INTO record_rows (report, position, source_ip, count, verdict) "
                             "VALUES (?, ?, ?, ?, ?)", (report, 1000 + n, ips[n % len(ips)], n + 1, cur.lastrowid))
                added += 1
    return added


def _from_the_view(store: Store, rows: list[IndexRow]) -> list[IndexRow]:
    """The same rows with their verdict columns read from the ``records`` view (and no verdict id)."""
    view: dict[int, tuple[Any, ...]] = {r[0]: r[1:] for r in store.conn.execute(_VIEW_SQL)}
    out = []
    for row in rows:
        values = list(view[row.record_id])
        for i in (9, 10, 11):  # pass and alignment: booleans in an IndexRow
            values[i] = bool(values[i])
        out.append(replace(row, verdict_id=None, **dict(zip(VERDICT_FIELDS, values, strict=True))))
    return out


def _one_pass(store: Store, chunk: int) -> tuple[list[IndexRow], list[tuple[str, bytes]]]:
    """A sync's reading and building: one pass's feed, chunk by chunk."""
    feed = AggregateFeed().for_pass()
    rows: list[IndexRow] = []
    built: list[tuple[str, bytes]] = []
    while chunk_rows := list(feed.pending(store, "t", rows[-1].record_id if rows else 0, chunk,
                                          outbox.datetime.max.replace(tzinfo=outbox.UTC))):
        for row in chunk_rows:
            [(doc_id, _, source)] = feed.documents(row, "i")
            built.append((doc_id, orjson.dumps(source)))
        rows += chunk_rows
    return rows, built


@pytest.mark.parametrize("chunk", [7, 100_000])
def test_documents_from_record_rows_equal_those_from_the_records_view(seeded_store: Store, chunk: int) -> None:
    odd = _add_odd_records(seeded_store)
    total = seeded_store.conn.execute("SELECT count(*) FROM records").fetchone()[0]
    rows, built = _one_pass(seeded_store, chunk)
    reference = _from_the_view(seeded_store, rows)
    assert (len(rows), odd, len({r.verdict_id for r in rows})) == (
        total, 6, seeded_store.conn.execute("SELECT count(*) FROM verdicts").fetchone()[0])
    assert [replace(r, verdict_id=None) for r in rows] == reference
    assert built == [(document_id(r), orjson.dumps(to_document(r))) for r in reference]
    odd_docs = [orjson.loads(b) for _, b in built[-odd:]]
    assert [d["dmarc"]["policy_evaluated"].get("reasons") for d in odd_docs[:2]] == [
        [{"type": "mailing_list"}, {"type": "local_policy", "comment": "x"}]] * 2
    assert [("auth_results" in d["dmarc"], d["dmarc"]["identifiers"]) for d in odd_docs[:2]] == [
        (False, {"header_from": "Example.COM"})] * 2


def test_documents_stay_the_same_when_the_memos_overflow(seeded_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_odd_records(seeded_store)
    _, unbounded = _one_pass(seeded_store, 50)
    monkeypatch.setattr(document, "_MEMO_MAX", 2)
    monkeypatch.setattr(outbox, "_VERDICTS_KEPT", 3)
    rows, bounded = _one_pass(seeded_store, 50)
    assert bounded == unbounded
    assert len(bounded) == seeded_store.conn.execute("SELECT count(*) FROM record_rows").fetchone()[0] == len(rows)


def test_a_pass_sees_ip_facts_that_changed_between_its_chunks(seeded_store: Store) -> None:
    feed = AggregateFeed().for_pass()
    later = outbox.datetime.max.replace(tzinfo=outbox.UTC)
    first = list(feed.pending(seeded_store, "t", 0, 1, later))[0]
    before = feed.documents(first, "i")[0][2]
    with seeded_store.transaction():
        seeded_store.conn.execute("UPDATE ip_info SET reverse_dns = 'MX.Changed.example' WHERE ip = ?",
                                  (first.source_ip,))
    again = list(feed.rows_by_id(seeded_store, [first.record_id]))[0]
    after = feed.documents(again, "i")[0][2]
    assert (before["source"].get("domain"), after["source"]["domain"]) == (first.ip.reverse_dns, "MX.Changed.example")
    assert "mx.changed.example" in after["related"]["hosts"]
    assert after == to_document(again)
