"""``ingest --jobs N``: worker processes parse, one writer stores; every outcome and every stored row as with one job."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from dmarcflow.config import Limits
from dmarcflow.ingest import Ingestor, jobs_for
from dmarcflow.ingest_worker import ParsedInput, ParsedPayload, WorkerSettings, WorkerState, WriterTakesIt, parse_input
from dmarcflow.kinds import aggregate_kind
from dmarcflow.kinds.base import KindSettings
from dmarcflow.store import Store
from tests.conftest import SAMPLES
from tests.support.failing_workers import parse_or_fail
from tests.support.hostile import gzipped, mail, mbox, record, report, zip_of

GOOD = report()
DTD = b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY x "y">]><feedback>&x;</feedback>'


def _folder(tmp_path: Path) -> Path:
    """Every sample (aggregate, TLS, failure, quirks, mbox) and good, duplicate, conflicting, rejected and hostile files."""
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES, folder)
    extra = {
        "a-good.xml": GOOD,
        "b-duplicate.xml": GOOD,
        "c-conflict.xml": report(record(count="9")),
        "d-bad-count.xml": report(record(count="lots"), report_id="bad"),
        "e-dtd.xml": DTD,
        "f-empty.xml": b"",
        "g-garbage.gz": b"\x1f\x8b\x08\x00" + b"\xff" * 64,
        "h-bomb.gz": gzipped(b"<feedback>" + b" " * (8 << 20)),
        "i-zip.zip": zip_of([("one.xml", report(report_id="z1")), ("notes.txt", b"hello"), ("two.xml", DTD)]),
        "j-mail.eml": mail([("r.xml", "text/xml", report(report_id="m1"))], html="<p>hi</p>"),
        "k-box.mbox": mbox([mail([("x.xml", "text/xml", report(report_id="mb1"))]), b"Subject: none\r\n\r\nno report"]),
        "l-truncated.xml": report(report_id="cut")[:300],
    }
    for name, data in extra.items():
        (folder / name).write_bytes(data)
    return folder


def _rows(db: Path) -> dict[str, list[str]]:
    """Every table's rows, without the columns that hold the time of the run."""
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for table in tables:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})") if not c[1].endswith("_at")]
            out[table] = sorted(repr(r) for r in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"))
    return out


def test_two_jobs_give_what_one_job_gives(cli, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    runs = {}
    for jobs in ("1", "2"):
        db = tmp_path / f"jobs{jobs}.sqlite"
        first = cli("--db", db, "ingest", "--offline", "--format", "json", "--jobs", jobs, folder)
        again = cli("--db", db, "ingest", "--offline", "--format", "json", "--jobs", jobs, folder)
        runs[jobs] = (first.exit_code, first.stdout, again.exit_code, again.stdout, _rows(db))
    assert runs["2"] == runs["1"]
    exit_code, stdout, again_code, again_stdout, rows = runs["2"]
    outcomes = json.loads(stdout)
    assert (exit_code, again_code) == (1, 1)
    by_name = {Path(o["path"]).name: (o["status"], o["reason"]) for o in outcomes if Path(o["path"]).parent == folder}
    assert {k: v for k, v in by_name.items() if k[1] == "-"} == {
        "a-good.xml": ("ingested", None), "b-duplicate.xml": ("duplicate", None), "c-conflict.xml": ("conflict", None),
        "d-bad-count.xml": ("rejected", "invalid_value"), "e-dtd.xml": ("rejected", "forbidden_xml"),
        "f-empty.xml": ("rejected", "empty"), "g-garbage.gz": ("rejected", "unreadable"),
        "h-bomb.gz": ("rejected", "too_large"), "i-zip.zip": ("rejected", "forbidden_xml"),
        "j-mail.eml": ("ingested", None), "k-box.mbox:1": ("ingested", None),
        "k-box.mbox:2": ("rejected", "not_a_report"), "l-truncated.xml": ("rejected", "malformed_xml"),
    }
    assert (len(outcomes), len(rows["reports"]), len(rows["rejected"])) == (62, 41, 8)
    again = json.loads(again_stdout)
    assert [o["path"] for o in again] == [o["path"] for o in outcomes]
    assert {o["status"] for o in again} == {"duplicate", "rejected"}


def test_outcomes_come_in_input_order(cli, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    names = []
    for i in range(12):  # big and small files interleaved: workers finish them out of order
        records = "".join(record(ip=f"10.0.{k // 256}.{k % 256}") for k in range(1 + (i % 3) * 400))
        name = f"{i:02d}.xml"
        (folder / name).write_bytes(report(records, report_id=f"r{i}"))
        names.append(str(folder / name))
    result = cli("--db", tmp_path / "s.sqlite", "ingest", "--offline", "--format", "json", "--jobs", "2", folder)
    assert result.exit_code == 0
    outcomes = json.loads(result.stdout)
    assert [(o["path"], o["status"], o["records"]) for o in outcomes] == [
        (name, "ingested", 1 + (i % 3) * 400) for i, name in enumerate(names)]


def _ingest(tmp_path: Path, files: dict[str, bytes], jobs: int,
            batch: int = 1) -> tuple[list[tuple[str, str, str | None, str | None]], Path]:
    from dmarcflow.config import EnrichmentSettings
    from dmarcflow.enrich import Enricher

    folder = tmp_path / f"in{jobs}"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    db = tmp_path / f"s{jobs}.sqlite"
    done: list = []
    enricher = Enricher(EnrichmentSettings(offline=True))
    with Store.open(db) as store, closing(enricher):
        Ingestor(store, enricher, Limits()).ingest_files(sorted(str(p) for p in folder.iterdir()), done.extend,
                                                        jobs=jobs, parse=parse_or_fail, batch_inputs=batch)
    return [(Path(o.path).name, o.status, o.reason, o.message) for o in done], db


DIED = "internal error while reading the input: the worker process parsing it died (killed by signal 9)"
BUG = "internal error while reading the input: ZeroDivisionError: a bug in the worker"


@pytest.mark.parametrize(("batch", "e_outcome"), [
    (1, ("ingested", None, None)),  # a task per input: only the inputs that crash their worker fail
    (3, ("rejected", "internal_error", DIED)),  # [crash-d, crash-f, e] is one task: its worker dies on the first
])
def test_a_worker_that_dies_or_fails_gives_each_input_of_its_task_internal_error_and_the_run_goes_on(
        tmp_path: Path, batch: int, e_outcome: tuple[str, str | None, str | None]) -> None:
    files = {"a.xml": report(report_id="a"), "bug-b.xml": report(report_id="b"), "c.xml": report(report_id="c"),
             "crash-d.xml": report(report_id="d"), "e.xml": report(report_id="e"), "crash-f.xml": b"<x/>",
             "g.xml": report(report_id="g"), "writer-h.xml": report(report_id="h")}
    outcomes, db = _ingest(tmp_path, files, jobs=2, batch=batch)
    assert outcomes == [
        ("a.xml", "ingested", None, None),
        ("bug-b.xml", "rejected", "internal_error", BUG),  # an exception fails its own input only, in any batch
        ("c.xml", "ingested", None, None),
        ("crash-d.xml", "rejected", "internal_error", DIED),
        ("crash-f.xml", "rejected", "internal_error", DIED),
        ("e.xml", *e_outcome),
        ("g.xml", "ingested", None, None),
        ("writer-h.xml", "ingested", None, None),  # handed to the writer, which ingested it itself
    ]
    failed = {"bug-b.xml", "crash-d.xml", "crash-f.xml"} | ({"e.xml"} if e_outcome[0] == "rejected" else set())
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT report_id FROM reports ORDER BY report_id").fetchall() == [
            (n[-5],) for n in sorted({"a.xml", "c.xml", "e.xml", "g.xml", "writer-h.xml"} - failed)]
    with Store.open(db) as store:
        kept = sorted((Path(r.input).name, store.rejected_raw(r.id)) for r in store.rejected_inputs())
    assert kept == [(n, files[n]) for n in sorted(failed)]  # each with its bytes kept


def test_jobs_option_is_validated(cli, tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(GOOD)
    for value, error in (("0", "0 is not in the range 1<=x<=64."), ("65", "65 is not in the range 1<=x<=64."),
                         ("two", "'two' is not a valid integer range.")):
        result = cli("--db", tmp_path / "s.sqlite", "ingest", "--jobs", value, tmp_path / "a.xml")
        assert result.exit_code == 2
        assert f"Error: Invalid value for '--jobs': {error}" in result.stderr
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize(("asked", "files", "expected"), [
    (None, ["small"], 1), (None, ["small"] * 399, 1),  # the default: too few inputs and bytes to pay for workers
    (None, ["small"] * 400, 2), (None, ["large", "large"], 2), (None, ["large"], 1),  # (2 cores here)
    (4, ["small"] * 2, 2), (1, ["small"] * 40, 1), (3, ["small"] * 40, 3), (64, ["small"] * 100, 64),
    (2, ["box"], 2), (8, ["box"], 8),  # an mbox: its messages are the inputs
    (None, ["box"], 1), (None, ["box", "large"], 2),
])
def test_jobs_never_exceed_the_tasks(tmp_path: Path, monkeypatch, asked: int | None, files: list[str],
                                     expected: int) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})  # the cores: the default's number
    contents = {"small": GOOD, "large": b" " * (5 << 20) + GOOD,
                "box": b"From a@example.com Mon Jan  1 00:00:00 2024\n" + b"x" * (3 << 20)}
    paths = []
    for i, name in enumerate(files):
        path = tmp_path / f"{i}-{name}"
        path.write_bytes(contents[name])
        paths.append(str(path))
    assert jobs_for(asked, paths) == expected


def test_a_report_too_large_to_send_is_left_to_the_writer(monkeypatch, tmp_path: Path) -> None:
    path = tmp_path / "three.xml"
    path.write_bytes(report("".join(record(ip=f"192.0.2.{k}") for k in range(3))))
    monkeypatch.setattr(aggregate_kind, "WORKER_MAX_RECORDS", 2)
    assert parse_input(WorkerState(WorkerSettings(KindSettings())), str(path)) == WriterTakesIt("too large: more than 2 records")
    monkeypatch.setattr(aggregate_kind, "WORKER_MAX_RECORDS", 3)
    parsed = parse_input(WorkerState(WorkerSettings(KindSettings())), str(path))
    assert isinstance(parsed, ParsedInput)
    assert [(type(i).__name__, len(i.parsed.records)) for i in parsed.items if isinstance(i, ParsedPayload)] == [
        ("ParsedPayload", 3)]


def _session(sid: int) -> list[int]:
    """The processes still alive in this session (from /proc: field 6 of each stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def test_ctrl_c_stops_workers_and_writer_cleanly(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    records = "".join(record(ip=f"10.1.{k // 256}.{k % 256}") for k in range(2000))
    for i in range(60):
        (folder / f"{i:02d}.xml").write_bytes(report(records, report_id=f"r{i}"))
    db = tmp_path / "s.sqlite"
    argv = [sys.executable, "-m", "dmarcflow", "--db", str(db), "ingest", "--offline", "--jobs", "2", str(folder)]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # workers started and parsing
    os.killpg(child.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = child.communicate(timeout=60)
    assert (child.returncode, err.decode().splitlines()[-1:]) == (1, ["Aborted!"])
    assert "Traceback" not in err.decode()
    left = ["?"]
    deadline = time.monotonic() + 20  # the fork server and resource tracker leave once they see the writer gone
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _session(child.pid)
    assert left == []  # no worker, fork server or resource tracker outlives the run


def _year_mbox() -> bytes:
    """Every sample mail (aggregate, TLS, failure, quirks), hostile and broken mails, each three times (the
    second and third copies are duplicates), and a last message cut short: more messages than one task takes."""
    mails = [p.read_bytes() for p in sorted(SAMPLES.rglob("*.eml"))]
    mails += [
        mail([("r.xml", "text/xml", report(report_id="mbox-xml"))]),
        mail([("r.xml.gz", "application/gzip", gzipped(report(report_id="mbox-gz")))]),
        mail([("r.zip", "application/zip", zip_of([("one.xml", report(report_id="mbox-zip")), ("two.xml", DTD)]))]),
        mail([("c.xml", "text/xml", report(record(count="9"), report_id="mbox-xml"))]),  # a conflict
        mail([("d.xml", "text/xml", DTD)]),
        mail([("g.gz", "application/gzip", b"\x1f\x8b\x08\x00" + b"\xff" * 64)]),
        mail([("b.gz", "application/gzip", gzipped(b"<feedback>" + b" " * (8 << 20)))]),
        b"Subject: none\r\n\r\nno report",
        b"",
        b"x" * 5000,  # larger than the limit the test sets: rejected unread
    ]
    return mbox(mails * 3) + b"From MAILER-DAEMON Thu Mar  5 10:00:09 2026\n" + mail(
        [("t.xml", "text/xml", report(report_id="cut"))])[:400]


def test_an_mbox_gives_the_same_outcomes_and_rows_with_workers(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DMARCFLOW_LIMITS_MAX_MESSAGE_BYTES", "4096")
    box = tmp_path / "year.mbox"
    box.write_bytes(_year_mbox())
    assert jobs_for(2, [str(box)]) == 2  # what the command runs: two workers
    runs = {}
    for jobs in ("1", "2"):
        db = tmp_path / f"jobs{jobs}.sqlite"
        first = cli("--db", db, "ingest", "--offline", "--format", "json", "--jobs", jobs, box)
        runs[jobs] = (first.exit_code, first.stdout, _rows(db))
    assert runs["2"] == runs["1"]
    exit_code, stdout, _ = runs["2"]
    outcomes = json.loads(stdout)
    count = 3 * (len(list(SAMPLES.rglob("*.eml"))) + 10) + 1
    assert [o["path"] for o in outcomes] == [f"{box}:{n}" for n in range(1, count + 1)]
    statuses = [(o["status"], o["reason"]) for o in outcomes]
    tail = statuses[count // 3 - 10: count // 3]  # the first round of the hand-made mails
    assert (exit_code, tail) == (1, [
        ("ingested", None), ("ingested", None), ("rejected", "forbidden_xml"), ("conflict", None),
        ("rejected", "forbidden_xml"), ("rejected", "unreadable"), ("rejected", "too_large"),
        ("rejected", "not_a_report"), ("rejected", "empty"), ("rejected", "too_large")])
    assert statuses[-1] == ("rejected", "not_a_report")  # cut before its attachment
    assert {s for s in statuses[count // 3: 2 * count // 3] if s[0] != "rejected"} == {("duplicate", None)}
    with Store.open(tmp_path / "jobs2.sqlite") as store:
        kept = {r.payload: (r.reason, r.size, store.rejected_raw(r.id)) for r in store.rejected_inputs()}
    assert kept[f"{box}:{count // 3 - 1}"] == ("empty", 1, b"\n")  # the line break the mbox writer added
    assert kept[f"{box}:{count // 3}"][:3] == ("too_large", 5001, None)  # measured (with its line break), not kept
    assert kept[f"{box}:{count // 3 - 2}"] == ("not_a_report", 27, b"Subject: none\r\n\r\nno report\n")


def test_an_imap_pass_gets_workers_for_a_backlog_only() -> None:
    """``fetch``'s default as ``ingest``'s: none below 400 mails and 8 MiB, else the cores; never more than tasks."""
    import os

    from dmarcflow.ingest_tasks import messages_jobs

    cores = len(os.sched_getaffinity(0))
    assert [messages_jobs(None, 399, (8 << 20) - 1), messages_jobs(None, 400, 1000), messages_jobs(None, 3, 8 << 20),
            messages_jobs(2, 10, 1000), messages_jobs(3, 100, 1000), messages_jobs(1, 5000, 1 << 30)] == [
        1, min(cores, 13), 1, 1, 3, 1]
