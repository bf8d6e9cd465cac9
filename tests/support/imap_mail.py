"""Helpers for the IMAP tests: report mails with known content, config files, a `dmarcflow watch` subprocess."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

from benchmarks.generator import (
    Options,
    ReportSpec,
    generate_dataset,
    gzip_bytes,
    render_xml,
    report_email,
    report_filename,
    zip_bytes,
)
from tests.support.dovecot import DovecotServer

REPO = Path(__file__).resolve().parent.parent.parent
WAIT = 30.0  # bounded waits: generous, they only matter when something is broken
T = TypeVar("T")


@dataclass(frozen=True)
class ReportMail:
    identity: tuple[str, str]  # (org_name, report_id), what the store must hold exactly once
    raw: bytes


@dataclass(frozen=True)
class Folders:
    """One test's own folders on a shared server."""

    prefix: str

    @property
    def inbox(self) -> str:
        return f"{self.prefix}/INBOX"

    @property
    def archive(self) -> str:
        return f"{self.prefix}/Archive"

    @property
    def invalid(self) -> str:
        return f"{self.prefix}/Invalid"

    def table(self) -> dict[str, object]:
        return {"folder": self.inbox, "archive_folder": self.archive, "invalid_folder": self.invalid}

    def options(self) -> list[str]:
        return ["--folder", self.inbox, "--archive-folder", self.archive, "--invalid-folder", self.invalid]

    def counts(self, server: DovecotServer) -> dict[str, int]:
        """Message counts of this test's folders, by their short names (INBOX, Archive, ...)."""
        start = self.prefix + "/"
        return {name[len(start):]: n for name, n in server.folder_counts().items() if name.startswith(start)}


def report_mails(count: int, seed: int = 1, records: int = 5) -> list[ReportMail]:
    """Report mails cycling through gzip, zip and plain XML attachments."""
    dataset = generate_dataset(seed, Options(reports=count, records_per_report=records))
    return [report_mail(report, index) for index, report in enumerate(dataset.reports)]


def report_mail(report: ReportSpec, index: int = 0) -> ReportMail:
    xml = render_xml(report)
    kind = index % 3
    if kind == 0:
        raw = report_email(gzip_bytes(xml), report_filename(report, ".xml.gz"), "application/gzip", report)
    elif kind == 1:
        name = report_filename(report, ".xml")
        raw = report_email(zip_bytes([(name, xml)]), report_filename(report, ".zip"), "application/zip", report)
    else:
        raw = report_email(xml, report_filename(report, ".xml"), "text/xml", report)
    return ReportMail((report.org_name, report.report_id), raw)


def plain_mail(subject: str, body: str = "Hello, no report here.\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = "someone@example.org"
    msg["To"] = "dmarc@example.com"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes()


def mail_with_attachment(subject: str, data: bytes, filename: str, mime: str) -> bytes:
    """A multipart mail with one base64 attachment, assembled by hand: the email package needs seconds
    to encode 30 MB, base64.encodebytes a fraction of one."""
    boundary = "=_attachment_" + hashlib.sha256(data[:4096] + subject.encode()).hexdigest()[:16]
    head = (
        "From: reports@example.org\r\nTo: dmarc@example.com\r\n"
        f"Subject: {subject}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attachment.\r\n"
        f"--{boundary}\r\nContent-Type: {mime}\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
    ).encode()
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return head + body + f"--{boundary}--\r\n".encode()


def broken_gzip_mail() -> bytes:
    """Claims to be a gzip report but the bytes stop half-way."""
    data = gzip_bytes(b"<?xml version='1.0'?><feedback>" + b"<record/>" * 2000 + b"</feedback>")
    return mail_with_attachment("Report Domain: example.com", data[: len(data) // 2], "r.xml.gz", "application/gzip")


def stored_identities(db: Path) -> list[tuple[str, str, int]]:
    """(org, report_id, copies) for every report identity in the store."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT org_name, report_id, count(*) FROM reports GROUP BY org_name, report_id ORDER BY 1, 2"
        ).fetchall()
    return [tuple(row) for row in rows]


def count_rows(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # not migrated yet


def expected(mails: Iterable[ReportMail]) -> list[tuple[str, str, int]]:
    return sorted((org, rid, 1) for org, rid in {m.identity for m in mails})


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, db: Path, boxes: list[dict[str, object]], limits: dict[str, object] | None = None) -> Path:
    lines = ["[store]", f"path = {toml_value(str(db))}", "", "[enrichment]", "offline = true", ""]
    if limits:
        lines += ["[limits]"] + [f"{k} = {toml_value(v)}" for k, v in limits.items()] + [""]
    for box in boxes:
        lines += ["[[mailboxes]]"] + [f"{k} = {toml_value(v)}" for k, v in box.items()] + [""]
    path.write_text("\n".join(lines))
    return path


def mailbox_table(server: DovecotServer, mode: str = "implicit", **extra: object) -> dict[str, object]:
    """One [[mailboxes]] table for the test server; fast reconnects so fault tests stay short."""
    port = server.tls_port if mode == "implicit" else server.port
    table: dict[str, object] = {
        "name": "reports", "host": server.host, "port": port, "tls": mode, "ca_file": str(server.ca_file),
        "user": server.user, "password": server.password, "reconnect_min": 0.2, "reconnect_max": 1.0,
        "poll_interval": 2.0, "timeout": 10.0,
    }
    table.update(extra)
    return table


def wait_for(check: Callable[[], T], what: str, timeout: float = WAIT, describe: Callable[[], str] | None = None) -> T:
    """Poll until check() is truthy; fail with a clear message after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{describe()}" if describe else ""
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(0.05)


class WatchProcess:
    """`python -m dmarcflow --config CFG watch ...` with its log in a file."""

    def __init__(self, config: Path, log: Path, *args: str, root_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.log = log
        full_env = {**os.environ, **(env or {})}
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dmarcflow", "--config", str(config), *root_args, "watch", *args],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=full_env,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self) -> str:
        return "daemon log tail:\n" + "\n".join(self.text().splitlines()[-25:])

    def until(self, check: Callable[[], T], what: str, timeout: float = WAIT, describe: Callable[[], str] | None = None) -> T:
        """wait_for, but give up at once when the daemon has exited."""

        def running_check() -> T:
            value = check()
            if not value and self.process.poll() is not None:
                raise AssertionError(f"watch exited with {self.process.returncode} while waiting for {what}\n{self.tail()}")
            return value

        return wait_for(running_check, what, timeout, describe or self.tail)

    def wait_log(self, fragment: str, timeout: float = WAIT) -> None:
        self.until(lambda: fragment in self.text(), f"{fragment!r} in the daemon log", timeout)

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
            raise AssertionError(f"watch did not exit within {timeout:.0f} s after {signal.Signals(signum).name}\n{self.tail()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""  # not listening (yet)
