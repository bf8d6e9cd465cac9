"""`dmarcflow fetch` against a real Dovecot: a mixed mailbox, TLS modes, fallbacks, errors."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import (
    broken_gzip_mail,
    count_rows,
    expected,
    mail_with_attachment,
    mailbox_table,
    plain_mail,
    report_mails,
    stored_identities,
    write_config,
)

MB = 1 << 20


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def connection_options(server: DovecotServer, mode: str, password_file: Path) -> list[str]:
    port = server.tls_port if mode == "implicit" else server.port
    return ["--host", server.host, "--port", str(port), "--tls", mode, "--ca-file", str(server.ca_file),
            "--user", server.user, "--password-file", str(password_file)]


@pytest.fixture
def password_file(tmp_path: Path, dovecot: DovecotServer) -> Path:
    path = tmp_path / "password"
    path.write_text(dovecot.password + "\n")
    return path


def test_mixed_mailbox_every_report_once_every_mail_filed(dovecot: DovecotServer, db: Path, password_file: Path, cli) -> None:
    reports = report_mails(6, seed=11)
    broken = [
        plain_mail("Hello"),  # no attachment at all
        broken_gzip_mail(),  # a report cut in half
        b"\x01\x02garbage that is not an email\r\n\r\n\xff\xfe",  # malformed message (no NUL: IMAP may not carry it)
        mail_with_attachment("Invoice", b"%PDF-1.4 not a report\n", "invoice.pdf", "application/pdf"),
        mail_with_attachment("Big", os.urandom(30 * MB), "backup.bin", "application/octet-stream"),
    ]
    # Bad mail between good mail: each must be handled and the next one still processed.
    sequence = [reports[0].raw, broken[0], reports[1].raw, broken[1], reports[2].raw, broken[2],
                reports[3].raw, broken[3], reports[4].raw, broken[4], reports[5].raw, reports[0].raw]
    for raw in sequence:
        dovecot.append("INBOX", raw)

    result = cli("--db", db, "fetch", *connection_options(dovecot, "implicit", password_file), "--offline", "--format", "json")

    assert result.exit_code == 1  # as for ingest: some input was rejected
    statuses = [(o["path"], o["status"], o["reason"]) for o in json.loads(result.stdout)]
    assert statuses == [
        ("imap://cli/INBOX/1", "ingested", None),
        ("imap://cli/INBOX/2", "rejected", "not_a_report"),
        ("imap://cli/INBOX/3", "ingested", None),
        ("imap://cli/INBOX/4", "rejected", "unreadable"),
        ("imap://cli/INBOX/5", "ingested", None),
        ("imap://cli/INBOX/6", "rejected", "not_a_report"),
        ("imap://cli/INBOX/7", "ingested", None),
        ("imap://cli/INBOX/8", "rejected", "not_a_report"),
        ("imap://cli/INBOX/9", "ingested", None),
        ("imap://cli/INBOX/10", "rejected", "not_a_report"),
        ("imap://cli/INBOX/11", "ingested", None),
        ("imap://cli/INBOX/12", "duplicate", None),
    ]
    assert stored_identities(db) == expected(reports)
    assert dovecot.folder_counts() == {"INBOX": 0, "Archive": 7, "Invalid": 5}
    # Filed unchanged (IMAP hands messages back with CRLF line ends).
    assert sorted(crlf(m) for m in dovecot.list_messages("Invalid")) == sorted(crlf(m) for m in broken)
    assert count_rows(db, "rejected") == 5
    assert count_rows(db, "raw_inputs") == 5  # every rejected mail's bytes are kept

    again = cli("--db", db, "fetch", *connection_options(dovecot, "implicit", password_file), "--offline", "--format", "json")
    assert (again.exit_code, json.loads(again.stdout)) == (0, [])


def test_archived_mail_is_not_marked_seen(dovecot: DovecotServer, db: Path, password_file: Path, cli) -> None:
    [mail] = report_mails(1, seed=2)
    dovecot.append("INBOX", mail.raw)
    assert cli("--db", db, "fetch", *connection_options(dovecot, "starttls", password_file), "--offline").exit_code == 0
    with dovecot.connect() as client:
        client.select_folder("Archive", readonly=True)
        [flags] = client.get_flags(client.search("ALL")).values()
        assert b"\\Seen" not in flags


@pytest.mark.parametrize("mode", ["none", "starttls", "implicit"])
def test_fetch_in_every_tls_mode(dovecot: DovecotServer, db: Path, password_file: Path, cli, mode: str) -> None:
    mails = report_mails(2, seed=3)
    for mail in mails:
        dovecot.append("INBOX", mail.raw)
    result = cli("--db", db, "fetch", *connection_options(dovecot, mode, password_file), "--offline")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == f"2 input(s): 2 ingested; {sum(_messages(db))} new message(s) stored"
    assert stored_identities(db) == expected(mails)
    assert dovecot.folder_counts() == {"INBOX": 0, "Archive": 2, "Invalid": 0}


def _messages(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT message_count FROM reports")]


def test_wrong_password_is_a_clear_error_not_a_traceback(dovecot: DovecotServer, db: Path, tmp_path: Path, cli) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password-0xdead\n")
    result = cli("--db", db, "fetch", *connection_options(dovecot, "implicit", wrong))
    assert result.exit_code == 1
    assert result.stderr == (
        "0 input(s): nothing found; 0 new message(s) stored\n"
        "Error: mailbox 'cli': login as 'user' at 127.0.0.1 refused: [AUTHENTICATIONFAILED] Authentication failed.\n"
    )


def test_plain_imap_to_a_remote_host_is_refused_before_connecting(db: Path, tmp_path: Path, cli) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x")
    result = cli("--db", db, "fetch", "--host", "imap.example.com", "--tls", "none", "--user", "u", "--password-file", secret)
    assert result.exit_code == 2
    assert result.stderr == "Error: configuration: mailbox 'cli': tls = \"none\" is only allowed for a loopback host, not 'imap.example.com'\n"


def test_config_file_with_password_from_environment(dovecot: DovecotServer, db: Path, tmp_path: Path, cli, monkeypatch) -> None:
    """Several mailboxes in one config; the first one's secret comes from DMARCFLOW_MAILBOX_PASSWORD_FILE."""
    secret = tmp_path / "secret"
    secret.write_text(dovecot.password)
    first = mailbox_table(dovecot, "implicit", name="first", folder="Reports/a", password="")
    second = mailbox_table(dovecot, "starttls", name="second", folder="Reports/b")
    config = write_config(tmp_path / "dmarcflow.toml", db, [first, second])
    monkeypatch.setenv("DMARCFLOW_MAILBOX_PASSWORD_FILE", str(secret))
    mails = report_mails(4, seed=5)
    for index, mail in enumerate(mails):
        dovecot.append("Reports/a" if index % 2 else "Reports/b", mail.raw)

    result = cli("--config", config, "fetch", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert sorted(o["path"] for o in json.loads(result.stdout)) == [
        "imap://first/Reports/a/1", "imap://first/Reports/a/2", "imap://second/Reports/b/1", "imap://second/Reports/b/2"]
    assert stored_identities(db) == expected(mails)
    assert dovecot.folder_counts() == {"INBOX": 0, "Reports/a": 0, "Reports/b": 0, "Archive": 4, "Invalid": 0}


def test_without_move_capability_copy_and_uid_expunge(dovecot_installed: None, db: Path, tmp_path: Path, cli) -> None:
    with DovecotServer(hide_capabilities={"MOVE"}) as server:
        mails = report_mails(3, seed=6)
        for mail in mails:
            server.append("INBOX", mail.raw)
        server.append("INBOX", plain_mail("not a report"))
        config = write_config(tmp_path / "c.toml", db, [mailbox_table(server, archive_folder="Done/2026")])
        result = cli("--config", config, "fetch")
        assert result.exit_code == 1
        assert stored_identities(db) == expected(mails)
        assert server.folder_counts() == {"INBOX": 0, "Done/2026": 3, "Invalid": 1}


def test_delete_processed_removes_archived_mail_but_files_invalid_mail(dovecot: DovecotServer, db: Path, tmp_path: Path, cli) -> None:
    mails = report_mails(2, seed=8)
    for mail in mails:
        dovecot.append("INBOX", mail.raw)
    dovecot.append("INBOX", plain_mail("keep me"))
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(dovecot, delete_processed=True)])
    assert cli("--config", config, "fetch").exit_code == 1
    assert stored_identities(db) == expected(mails)
    assert dovecot.folder_counts() == {"INBOX": 0, "Archive": 0, "Invalid": 1}


def test_message_over_the_size_limit_is_filed_invalid_without_download(dovecot: DovecotServer, db: Path, tmp_path: Path, cli) -> None:
    [small] = report_mails(1, seed=9)
    big = mail_with_attachment("Big", b"A" * (300 * 1024), "big.bin", "application/octet-stream")
    dovecot.append("INBOX", big)
    dovecot.append("INBOX", small.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(dovecot)], limits={"max_message_bytes": 200_000})
    result = cli("--config", config, "fetch", "--format", "json")
    assert result.exit_code == 1
    assert [(o["path"], o["status"], o["reason"]) for o in json.loads(result.stdout)] == [
        ("imap://reports/INBOX/1", "rejected", "too_large"), ("imap://reports/INBOX/2", "ingested", None)]
    assert dovecot.folder_counts() == {"INBOX": 0, "Archive": 1, "Invalid": 1}
    assert (count_rows(db, "rejected"), count_rows(db, "raw_inputs")) == (1, 0)


def test_no_mailbox_configured_is_a_configuration_error(db: Path, cli) -> None:
    result = cli("--db", db, "fetch")
    assert result.exit_code == 2
    assert result.stderr == ("Error: configuration: no mailbox configured: add a [[mailboxes]] table to the config file, "
                             "or give --host and --user\n")
