"""Exactly one outcome per input, always: files, folders, mbox messages and IMAP messages share one path."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from pathlib import Path

import pytest

from benchmarks.zips import LZMA, Entry, raw_zip
from dmarcflow import fetch
from dmarcflow.config import MailboxSettings
from dmarcflow.ingest import list_inputs
from dmarcflow.mailbox import Message
from tests.support.hostile import gzipped, mail, mbox, record, report, zip_of

GOOD = report()
POISON = report(record(header_from="boom.example", spf_domain="boom.example"), report_id="poison")


@pytest.fixture
def bug_on_boom(monkeypatch):
    """A bug on purpose: classifying a record whose From domain is boom.example raises.

    Patched because no input may reach a bug in the real code (the fuzz tests look for one);
    this checks what happens if one does.
    """
    from dmarcflow import normalise

    real = normalise.classify

    def classify(dmarc_pass, reasons, alignment, dkim, spf):
        if spf and spf[0].domain == "boom.example":
            raise ZeroDivisionError("a bug")
        return real(dmarc_pass, reasons, alignment, dkim, spf)

    monkeypatch.setattr(normalise, "classify", classify)


def test_a_bug_is_the_inputs_rejection_and_the_run_goes_on(bug_on_boom, ingestor, store, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="dmarcflow")
    outcomes = [ingestor.ingest_bytes("poison.xml", POISON), ingestor.ingest_bytes("good.xml", GOOD)]
    assert [(o.status, o.reason) for o in outcomes] == [("rejected", "internal_error"), ("ingested", None)]
    assert outcomes[0].message == "internal error while reading the input: ZeroDivisionError: a bug"
    assert "Traceback" in caplog.text and "ZeroDivisionError: a bug" in caplog.text
    assert [r.levelname for r in caplog.records if r.exc_info] == ["DEBUG"]  # the traceback only in the debug log
    sha = store.conn.execute("SELECT raw_sha256 FROM rejected WHERE reason = 'internal_error'").fetchone()[0]
    assert store.raw_input(sha) == POISON
    assert store.conn.execute("SELECT report_id FROM reports").fetchall() == [("r-1",)]


def test_a_bug_in_a_file_an_mbox_message_and_an_imap_message_is_handled_alike(bug_on_boom, ingestor, tmp_path) -> None:
    (tmp_path / "poison.xml").write_bytes(POISON)
    (tmp_path / "box.mbox").write_bytes(mbox([mail([("p.xml", "text/xml", POISON)]), mail([("g.xml", "text/xml", GOOD)])]))
    from_file = list(ingestor.ingest_file(str(tmp_path / "poison.xml")))
    from_mbox = list(ingestor.ingest_file(str(tmp_path / "box.mbox")))
    box = MailboxSettings(name="m", host="127.0.0.1", user="u", password="p")
    from_imap = fetch.ingest_message(ingestor, box, Message(7, mail([("p.xml.gz", "application/gzip", gzipped(POISON))])))
    assert [(o.path, o.status, o.reason, o.reports) for o in from_file + from_mbox + [from_imap]] == [
        (str(tmp_path / "poison.xml"), "rejected", "internal_error", 0),
        (f"{tmp_path / 'box.mbox'}:1", "rejected", "internal_error", 0),
        (f"{tmp_path / 'box.mbox'}:2", "ingested", None, 1),
        ("imap://m/INBOX/7", "rejected", "internal_error", 0),
    ]


def test_poison_part_first_does_not_lose_the_good_report_after_it(ingestor, store) -> None:
    poison = raw_zip([Entry(b"bad.xml", GOOD, method=LZMA, payload=b"\x09\x14\x05\x00" + bytes(range(60)))])
    data = mail([("bad.zip", "application/zip", poison), ("good.xml.gz", "application/gzip", gzipped(GOOD))])
    outcome = ingestor.ingest_bytes("mixed.eml", data)
    assert (outcome.status, outcome.reason, outcome.reports, outcome.messages) == ("rejected", "unreadable", 1, 3)
    assert [(p.name, p.status) for p in outcome.payloads] == [
        ("mixed.eml#part0", "skipped"), ("mixed.eml#bad.zip!bad.xml", "rejected"), ("mixed.eml#good.xml.gz|gunzip", "ingested")]
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 1


def test_html_body_is_noted_not_a_rejection(ingestor) -> None:
    html = "<!doctype html><html><body><p>Your report<br>is attached &nbsp;</body></html>"
    outcome = ingestor.ingest_bytes("html.eml", mail([("r.xml", "text/xml", GOOD)], html=html))
    assert (outcome.status, outcome.reason, outcome.reports) == ("ingested", None, 1)
    assert outcome.as_dict()["skipped"] == [
        {"part": "html.eml#part0", "reason": "not_a_report", "message": "a text/plain part, not a report"},
        {"part": "html.eml#part1", "reason": "not_a_report", "message": "a text/html part, not a report"},
    ]


def test_readme_and_xhtml_in_a_zip_are_noted(ingestor) -> None:
    xhtml = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>about</body></html>'
    data = zip_of([("README.txt", b"Reports for example.com\n"), ("about.xhtml", xhtml), ("r.xml", GOOD), ("empty.txt", b"")])
    outcome = ingestor.ingest_bytes("bundle.zip", data)
    assert (outcome.status, outcome.reports) == ("ingested", 1)
    assert [(s["part"], s["reason"]) for s in outcome.as_dict()["skipped"]] == [
        ("bundle.zip!README.txt", "not_a_report"), ("bundle.zip!about.xhtml", "not_a_report"), ("bundle.zip!empty.txt", "empty")]


def test_nothing_but_non_reports_is_rejected_as_not_a_report(ingestor) -> None:
    outcome = ingestor.ingest_bytes("notes.zip", zip_of([("a.txt", b"one\n"), ("b.txt", b"two\n")]))
    assert (outcome.status, outcome.reason) == ("rejected", "not_a_report")
    assert outcome.message == ("no report in the input (2 parts): notes.zip!a.txt: not XML, JSON, gzip, zip or an email "
                               "(unrecognised content); notes.zip!b.txt: not XML, JSON, gzip, zip or an email (unrecognised content)")


@pytest.fixture
def no_hang():
    """Fail instead of hanging forever if something opens a FIFO for reading."""
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("blocked on a special file"))
    signal.alarm(20)
    yield
    signal.alarm(0)


def test_special_files_and_broken_links_get_unreadable_without_blocking(tmp_path, no_hang, cli, db_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-good.xml").write_bytes(GOOD)
    os.mkfifo(folder / "b-fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "c-socket"))
    (folder / "d-device").symlink_to("/dev/zero")
    (folder / "e-dangling").symlink_to(folder / "nowhere")
    (folder / "f-loop").symlink_to(folder / "f-loop")
    (folder / ".hidden.xml").write_bytes(report(report_id="hidden"))
    (folder / "g-link-to-good.xml").symlink_to(folder / "a-good.xml")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)  # a folder loop: walked once
    result = cli("--db", db_path, "ingest", "--offline", "--format", "json", folder)
    server.close()
    rows = [(Path(r["path"]).relative_to(folder).as_posix(), r["status"], r["reason"], r["message"]) for r in json.loads(result.stdout)]
    assert rows == [
        (".hidden.xml", "ingested", None, None),
        ("a-good.xml", "ingested", None, None),
        ("b-fifo", "rejected", "unreadable", "a FIFO (named pipe), not a regular file: not read"),
        ("c-socket", "rejected", "unreadable", "a socket, not a regular file: not read"),
        ("d-device", "rejected", "unreadable", "a character device, not a regular file: not read"),
        ("e-dangling", "rejected", "unreadable", "a dangling symbolic link (its target does not exist)"),
        ("f-loop", "rejected", "unreadable", "a symbolic link loop"),
        ("g-link-to-good.xml", "duplicate", None, None),
    ]
    assert result.exit_code == 1


def test_list_inputs_reads_hidden_files_and_walks_a_folder_once(tmp_path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x").write_text("x")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "r.xml").write_text("x")
    (tmp_path / "a.xml").write_text("x")
    (tmp_path / "b" / "again").symlink_to(tmp_path / "b")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in list_inputs([str(tmp_path)])] == [
        "a.xml", ".git/x", "b/r.xml"]


@pytest.mark.parametrize("prefix", [b" ", b"\xef\xbb\xbf", b"\n\n", b"\xef\xbb\xbf\r\n \t"])
def test_mbox_with_junk_before_the_first_from_line(prefix, ingestor, tmp_path) -> None:
    path = tmp_path / "box.mbox"
    path.write_bytes(mbox([mail([("r.xml", "text/xml", report(report_id=f"m{i}"))]) for i in range(3)], prefix))
    outcomes = list(ingestor.ingest_file(str(path)))
    assert [(o.path, o.status, o.reports) for o in outcomes] == [(f"{path}:{i}", "ingested", 1) for i in (1, 2, 3)]


def test_an_mbox_inside_an_archive_is_read_by_the_same_reader(ingestor) -> None:
    box = mbox([mail([("r.xml", "text/xml", report(report_id=f"n{i}"))]) for i in range(2)], b"\xef\xbb\xbf")
    outcome = ingestor.ingest_bytes("boxes.zip", zip_of([("reports.mbox", box)]))
    assert (outcome.status, outcome.reports) == ("ingested", 2)
    assert [p.name for p in outcome.payloads if p.status == "ingested"] == [
        "boxes.zip!reports.mbox:1#r.xml", "boxes.zip!reports.mbox:2#r.xml"]


def test_an_empty_mbox_message_and_an_mbox_of_nothing(ingestor, tmp_path) -> None:
    path = tmp_path / "two.mbox"
    path.write_bytes(b"From a\n\nFrom b\n" + mail([("r.xml", "text/xml", GOOD)]))
    assert [(o.status, o.reason) for o in ingestor.ingest_file(str(path))] == [("rejected", "empty"), ("ingested", None)]
    (tmp_path / "none.mbox").write_bytes(b"From nobody\n")
    assert [(o.path, o.status, o.reason) for o in ingestor.ingest_file(str(tmp_path / "none.mbox"))] == [
        (f"{tmp_path / 'none.mbox'}:1", "rejected", "empty")]


def test_an_mbox_message_over_the_size_limit_is_measured_not_kept(store, offline_enricher, tmp_path) -> None:
    from dmarcflow.config import Limits
    from dmarcflow.ingest import Ingestor

    big = mail([("big.bin", "application/octet-stream", os.urandom(3000))])
    path = tmp_path / "box.mbox"
    path.write_bytes(mbox([big, mail([("r.xml", "text/xml", GOOD)])]))
    outcomes = list(Ingestor(store, offline_enricher, Limits(max_message_bytes=2000)).ingest_file(str(path)))
    assert [(o.status, o.reason) for o in outcomes] == [("rejected", "too_large"), ("ingested", None)]
    assert outcomes[0].message.startswith("the message has ")
    assert store.conn.execute("SELECT raw_sha256 FROM rejected").fetchall() == [(None,)]


def test_an_input_of_empty_and_text_parts_is_not_a_report_and_all_empty_is_empty(ingestor) -> None:
    mixed = ingestor.ingest_bytes("mixed.zip", zip_of([("a.txt", b""), ("b.txt", b"hello\n")]))
    empty = ingestor.ingest_bytes("blank.zip", zip_of([("a.txt", b""), ("b.txt", b" \n")]))
    assert [(o.status, o.reason) for o in (mixed, empty)] == [("rejected", "not_a_report"), ("rejected", "empty")]


def test_a_failing_store_is_not_the_inputs_fault_and_propagates(db_path, offline_enricher) -> None:
    import sqlite3

    from dmarcflow.config import Limits
    from dmarcflow.errors import StoreError
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store import Store

    store = Store.open(db_path)
    ingestor = Ingestor(store, offline_enricher, Limits())
    store.conn.close()  # every statement now fails: the store, not the report, is broken
    with pytest.raises((StoreError, sqlite3.Error)):
        ingestor.ingest_bytes("good.xml", GOOD)
