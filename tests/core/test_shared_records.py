"""A report parsed in a worker reaches the writer as shared combinations and three columns (compact_records);
the writer then encodes, hashes and finds the verdict of each combination once. Every stored row, the records
hash and the rollups must be exactly those of the record-by-record path. Real SQLite files."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from dmarcflow.kinds.compact_records import compact
from dmarcflow.parse import parse_report
from dmarcflow.store import Store
from tests.support.report_xml import record, report

ODD = ["example.com", "ex'ample.com", 'quo"te.example', "back\\slash.example", "\u00fcml\u00e4ut.example",
       "tab\tand\u2028line.example"]


def _records() -> str:
    out = []
    for k in range(700):  # more than one batch of rows when the writer's batch is made small below
        odd = ODD[k % len(ODD)]
        out.append(record(ip=f"198.51.{k % 3}.{k % 250}", count=str(1 + k % 5), header_from=odd,
                          envelope_from=ODD[(k // 2) % len(ODD)], dkim=("pass", "fail")[k % 2],
                          spf_domain=odd, disposition=("none", "quarantine")[k % 7 == 0]))
    return "".join(out)


def _rows(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(repr(r) for r in conn.execute(f"SELECT * FROM {t}")) for t in tables
                if t not in ("reports", "schema_info")} | {
            "reports": [repr(r) for r in conn.execute("SELECT records_hash, record_count, message_count FROM reports")]}


@pytest.mark.parametrize("batch", [5000, 64])
def test_shared_records_store_exactly_what_records_one_by_one_store(tmp_path: Path, monkeypatch, batch: int) -> None:
    from dmarcflow.store import record_writer

    monkeypatch.setattr(record_writer, "_BATCH", batch)  # 64: the report's row goes in before its records
    xml = report(_records())
    for name, shared in (("one", False), ("shared", True)):
        parsed = parse_report(io.BytesIO(xml))
        records = list(parsed.records)
        given = compact(records, 10_000) if shared else records
        with Store.open(tmp_path / f"{name}.sqlite") as store, store.transaction():
            stored = store.write_report(parsed.report, given, status="active", conflict_of=None, source="x",
                                        raw_xml=lambda: io.BytesIO(b"raw"))
        assert (stored.records, stored.messages) == (700, sum(1 + k % 5 for k in range(700)))
    one, shared_rows = _rows(tmp_path / "one.sqlite"), _rows(tmp_path / "shared.sqlite")
    assert shared_rows == one
    assert len(one["record_rows"]) == 700


def test_compact_records_travel_as_plain_tuples_and_come_back_equal() -> None:
    import pickle

    records = list(parse_report(io.BytesIO(report(_records()))).records)
    packed = compact(records, 10_000)
    again = pickle.loads(pickle.dumps(packed))
    assert again == packed
    assert list(again.records()) == records
    assert b"DkimResult" not in pickle.dumps(packed)  # the nested dataclasses are sent as their fields


def _write(store: Store, xml: bytes, shared: bool) -> None:
    parsed = parse_report(io.BytesIO(xml))
    records = list(parsed.records)
    store.write_report(parsed.report, compact(records, 10_000) if shared else records, status="active",
                       conflict_of=None, source="x", raw_xml=lambda: io.BytesIO(b"raw"))


def test_combinations_kept_across_reports_store_what_each_report_alone_stores(tmp_path: Path) -> None:
    """The writer keeps each combination's encoding and verdict ids for the next reports (the same reporter
    repeats them): several reports in one store, some combinations shared, give the record-by-record rows."""
    xmls = [report(_records(), report_id=f"r-{k}", begin=str(1772323200 + k * 86400),
                   end=str(1772409599 + k * 86400)) for k in range(3)]
    xmls.append(report(record(ip="192.0.2.1", header_from=ODD[1]) + record(ip="192.0.2.2", dkim="fail"),
                       report_id="small"))
    for name, shared in (("one", False), ("shared", True)):
        with Store.open(tmp_path / f"{name}.sqlite") as store:
            for xml in xmls:
                with store.transaction():
                    _write(store, xml, shared)
    assert _rows(tmp_path / "shared.sqlite") == _rows(tmp_path / "one.sqlite")


def _write_and_fail(store: Store, xml: bytes) -> None:
    with store.transaction():
        _write(store, xml, shared=True)
        raise RuntimeError  # the report fails after its rows were written: its savepoint is rolled back


def test_combinations_kept_from_a_rolled_back_savepoint_are_looked_up_again(tmp_path: Path) -> None:
    """A report whose savepoint is rolled back took its new verdicts with it: the next report with the same
    combinations adds them again instead of pointing at rows that are gone."""
    new = record(ip="192.0.2.7", header_from="new.example.com", disposition="quarantine")
    with Store.open(tmp_path / "store.sqlite") as store, store.group():
        with pytest.raises(RuntimeError):
            _write_and_fail(store, report(new, report_id="a"))
        with store.transaction():
            _write(store, report(new, report_id="b"), shared=True)
    with sqlite3.connect(tmp_path / "store.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM record_rows r JOIN verdicts v ON v.id = r.verdict").fetchone()[0] == 1
        assert conn.execute("SELECT header_from, disposition FROM records").fetchall() == [
            ("new.example.com", "quarantine")]
        assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 1


def test_a_report_whose_combinations_are_known_has_none_of_them_built_again(tmp_path: Path) -> None:
    """After unpickling, a report's combinations are plain tuples; the writer builds the dataclasses of a
    combination only when its cache does not know it, so a repeated reporter's report has none built."""
    import pickle

    xmls = [report(_records(), report_id=f"r-{k}") for k in range(2)]
    arrived = []
    for xml in xmls:
        parsed = parse_report(io.BytesIO(xml))
        arrived.append((parsed.report, pickle.loads(pickle.dumps(compact(list(parsed.records), 10_000)))))
    with Store.open(tmp_path / "store.sqlite") as store:
        for rep, records in arrived:
            with store.transaction():
                store.write_report(rep, records, status="active", conflict_of=None, source="x",
                                   raw_xml=lambda: io.BytesIO(b"raw"))
    assert "combinations" not in arrived[1][1].__dict__  # every one known from the first report
    assert len(arrived[1][1].combinations) == len(arrived[1][1].flat) > 1
