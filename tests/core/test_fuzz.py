"""Property-based fuzzing of the whole per-input path: extract, parse, normalise, store into a real SQLite file.

Inputs are valid reports mutated (bit flips, truncation, elements duplicated or removed, hostile
values), and random bytes, each inside any stack of containers (gzip, zlib, zip, mail, mbox). Whatever
comes in, the outcome must be one of the documented ones (never internal_error: that is a bug), and the
store must stay consistent. The suite runs a fixed, modest number of examples (derandomised);
``scripts/fuzz.sh`` runs many more with an example database. Every failure found becomes a test in
``test_fuzz_regressions.py``.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from benchmarks.zips import Entry, raw_zip
from dmarcflow.config import Limits
from dmarcflow.errors import REASONS, WARNINGS
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from tests.support.hostile import gzipped, mail, mbox, record, report, zip_of

_SUITE_EXAMPLES = 60
settings.register_profile(
    "suite", max_examples=_SUITE_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("DMARCFLOW_FUZZ_EXAMPLES", "5000")), deadline=None, print_blob=True,
    database=DirectoryBasedExampleDatabase(os.environ.get("DMARCFLOW_FUZZ_DB", ".hypothesis/fuzz")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
PROFILE = os.environ.get("DMARCFLOW_FUZZ_PROFILE", "suite")
STATUSES = {"ingested", "duplicate", "conflict", "rejected"}
PART_STATUSES = STATUSES | {"skipped"}
SMALL_LIMITS = Limits(max_total_bytes=4 << 20, max_members=16, max_depth=4, max_message_bytes=1 << 20)

HOSTILE_VALUES = [
    "", " ", "-1", "²", "٣", "３", "1e999", "1.0e999", "nan", "inf", "9223372036854775807", "9223372036854775808",
    "18446744073709551616", "1772323200.5", "0x10", "999.1.1.1", "<b>", "&lt;script&gt;", "&amp;", "\u202e",
    "example.com.", "EXAMPLE.COM", "pass", "fail", "none", "quarantine", "reject", "r", "s", "x" * 300,
]
SNIPPETS = [
    b"<!DOCTYPE feedback>", b'<!DOCTYPE f [<!ENTITY a "aaaa">]>', b"<![CDATA[<!DOCTYPE x>]]>", b"<!-- <!DOCTYPE y> -->",
    b"&a;", b"&#0;", b"&#x110000;", b"\x92", b"\xff\xfe", b"\xef\xbb\xbf", b"\x00", b"\x01", b"<record>", b"</record>",
    b"<feedback>", b"]]>", b"<?pi x?>", b"<x/>" * 50, b"\r\n", b"<count>9223372036854775808</count>",
]
ELEMENT = re.compile(rb"<([a-z_]+)>[^<]*</\1>")


@st.composite
def reports(draw: st.DrawFn) -> bytes:
    ip = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))
    words = st.sampled_from(["pass", "fail", "softfail", "neutral", "none", "temperror"])
    domains = st.sampled_from(["example.com", "mail.example.com", "esp.example", "example.org", "other.example"])
    recs = draw(st.lists(st.builds(
        lambda *a: record(ip=a[0], count=str(a[1]), disposition=a[2], dkim_eval=a[3], spf_eval=a[4], header_from=a[5],
                          dkim_domain=a[6], spf_domain=a[7], dkim=a[8], spf=a[9]),
        ip, st.integers(0, 10**6), st.sampled_from(["none", "quarantine", "reject", "pass"]),
        st.sampled_from(["pass", "fail"]), st.sampled_from(["pass", "fail"]), domains, domains, domains, words, words,
    ), min_size=1, max_size=5))
    begin = draw(st.integers(0, 2**32 - 10**6))
    return report("".join(recs), report_id=draw(st.sampled_from(["r-1", "r-2", "id with space", "\u00e9"])),
                  begin=str(begin), end=str(begin + draw(st.integers(0, 10**6))))


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.sampled_from(MUTATIONS))(draw, data)
    return data


def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    if not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1:]


def _truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def _elements(data: bytes) -> list[re.Match[bytes]]:
    return list(ELEMENT.finditer(data))


def _duplicate(draw: st.DrawFn, data: bytes) -> bytes:
    found = _elements(data)
    if not found:
        return data
    m = draw(st.sampled_from(found))
    return data[: m.end()] + m.group(0) + data[m.end():]


def _remove(draw: st.DrawFn, data: bytes) -> bytes:
    found = _elements(data)
    if not found:
        return data
    m = draw(st.sampled_from(found))
    return data[: m.start()] + data[m.end():]


def _hostile_value(draw: st.DrawFn, data: bytes) -> bytes:
    found = _elements(data)
    if not found:
        return data
    m = draw(st.sampled_from(found))
    value = draw(st.sampled_from(HOSTILE_VALUES)).encode()
    name = m.group(1)
    return data[: m.start()] + b"<" + name + b">" + value + b"</" + name + b">" + data[m.end():]


def _insert(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.sampled_from(SNIPPETS)) + data[at:]


def _reencode(draw: st.DrawFn, data: bytes) -> bytes:
    codec = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "latin-1"]))
    try:
        return data.decode("utf-8").encode(codec)
    except (UnicodeDecodeError, UnicodeEncodeError):
        return data


MUTATIONS = [_flip, _truncate, _duplicate, _remove, _hostile_value, _insert, _reencode]


@st.composite
def contained(draw: st.DrawFn, data: bytes, damage: bool = True) -> bytes:
    """The bytes inside 0 to 3 containers (2 when undamaged: deeper may pass max_depth), each possibly damaged."""
    for _ in range(draw(st.integers(0, 3 if damage else 2))):
        kind = draw(st.sampled_from(["gzip", "zlib", "zip", "zip-raw", "mail", "mbox", "gzip-pad"]))
        if kind == "gzip":
            data = gzipped(data)
        elif kind == "gzip-pad":
            data = gzipped(data) + bytes(draw(st.integers(1, 64)))
        elif kind == "zlib":
            data = zlib.compress(data)
        elif kind == "zip":
            name = draw(st.sampled_from(["r.xml", "r.xml.gz", "../x", "a" * 300] + (["d/"] if damage else [])))
            data = zip_of([(f"{i}{name}", data) for i in range(draw(st.integers(1, 3)) if damage else 1)])
        elif kind == "zip-raw":
            data = raw_zip([Entry(draw(st.sampled_from([b"", b"r.xml", b"\xff.xml"])), data)])
        elif kind == "mail":
            ctype = draw(st.sampled_from(["application/gzip", "application/zip", "text/xml", "application/octet-stream"]))
            data = mail([("r.bin", ctype, data)], html=draw(st.sampled_from([None, "<p>hi</p>"])))
        else:
            carried = data if damage and draw(st.booleans()) else mail([("r.bin", "application/octet-stream", data)])
            data = mbox([carried], draw(st.sampled_from([b"", b" ", b"\xef\xbb\xbf"])))
        if damage and draw(st.integers(0, 9)) == 0:
            data = _flip(draw, data)
    return data


MAGIC = [b"", b"\x1f\x8b", b"PK\x03\x04", b"<?xml version='1.0'?>", b"<feedback>", b"From x\n", b"Subject: r\n\n", b"x\x9c",
         b"\xff\xfe<\x00", b"BZh9"]


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    with Store.open(tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite") as store:
        yield store


@pytest.fixture(scope="module")
def fuzz_ingestor(fuzz_store, offline_enricher):
    return Ingestor(fuzz_store, offline_enricher, SMALL_LIMITS)


def check(outcomes, store: Store) -> None:
    """Only documented outcomes, and a store that still agrees with itself."""
    assert outcomes, "no outcome at all"
    for o in outcomes:
        assert o.status in STATUSES
        assert (o.reason is None) == (o.status != "rejected"), o
        assert o.reason is None or o.reason in REASONS
        assert o.reason != "internal_error", o.message
        assert set(o.warnings) <= set(WARNINGS)
        for p in o.payloads:
            assert p.status in PART_STATUSES
            assert p.reason != "internal_error", p.message
            assert (p.reason is None) == (p.status not in ("rejected", "skipped")), p
    conn = store.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    reports = conn.execute("SELECT coalesce(sum(record_count), 0), coalesce(sum(message_count), 0) FROM reports").fetchone()
    records = conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM records").fetchone()
    assert reports == records
    active = conn.execute("SELECT coalesce(sum(message_count), 0), coalesce(sum(record_count), 0) FROM reports "
                          "WHERE status = 'active'").fetchone()
    assert conn.execute("SELECT coalesce(sum(messages), 0), coalesce(sum(records), 0) FROM daily_sources").fetchone() == active
    missing_facts = conn.execute("SELECT count(DISTINCT source_ip) FROM records WHERE source_ip NOT IN (SELECT ip FROM ip_info)")
    assert missing_facts.fetchone()[0] == 0


def ingest_twice(ingestor: Ingestor, name: str, data: bytes) -> None:
    first = ingestor.ingest_bytes(name, data)
    check([first], ingestor.store)
    second = ingestor.ingest_bytes(name, data)
    check([second], ingestor.store)
    if first.status in ("ingested", "duplicate") and all(p.status != "rejected" for p in first.payloads):
        assert second.status == "duplicate", (first, second)  # the records hash is exact and stable


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_mutated_reports_in_containers(data, fuzz_ingestor) -> None:
    xml = data.draw(reports())
    ingest_twice(fuzz_ingestor, "fuzz", data.draw(contained(data.draw(mutated(xml)))))


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_valid_reports_in_containers_are_stored(data, fuzz_ingestor) -> None:
    xml = data.draw(reports())
    outcome = fuzz_ingestor.ingest_bytes("valid", data.draw(contained(xml, damage=False)))
    check([outcome], fuzz_ingestor.store)
    assert (outcome.status in ("ingested", "duplicate", "conflict"), outcome.reports) == (True, 1), outcome
    assert outcome.records == xml.count(b"<record>")


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_random_bytes_in_every_container(data, fuzz_ingestor) -> None:
    raw = data.draw(st.sampled_from(MAGIC)) + data.draw(st.binary(max_size=600))
    ingest_twice(fuzz_ingestor, "random", data.draw(contained(raw)))


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_files_and_mboxes_on_disk(data, fuzz_ingestor, tmp_path_factory) -> None:
    xml = data.draw(mutated(data.draw(reports())))
    messages = [data.draw(contained(xml)) for _ in range(data.draw(st.integers(1, 3)))]
    raw = mbox(messages, data.draw(st.sampled_from([b"", b" ", b"\xef\xbb\xbf\n"]))) if data.draw(st.booleans()) else messages[0]
    path: Path = tmp_path_factory.mktemp("files") / "input"
    path.write_bytes(raw)
    check(list(fuzz_ingestor.ingest_file(str(path))), fuzz_ingestor.store)
