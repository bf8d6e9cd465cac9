"""`dmarcflow fetch` against a real Dovecot: a mixed mailbox, TLS modes, fallbacks, errors.

Tests share one server and each works in its own folders (see the `folders` fixture).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import (
    Folders,
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


@pytest.fixture
def server(shared_dovecot: DovecotServer) -> DovecotServer:
    return shared_dovecot


@pytest.fixture
def password_file(tmp_path: Path, server: DovecotServer) -> Path:
    path = tmp_path / "password"
    path.write_text(server.password + "\n")
    return path


def invalid_sizes(server: DovecotServer, folders: Folders) -> list[int]:
    with server.connect() as client:
        client.select_folder(folders.invalid, readonly=True)
        sizes = client.fetch(client.search("ALL"), ["RFC822.SIZE"])
    return sorted(item[b"RFC822.SIZE"] for item in sizes.values())


def connection_options(server: DovecotServer, mode: str, password_file: Path, folders: Folders) -> list[str]:
    port = server.tls_port if mode == "implicit" else server.port
    return ["--host", server.host, "--port", str(port), "--tls", mode, "--ca-file", str(server.ca_file),
            "--user", server.user, "--password-file", str(password_file), *folders.options()]


def message_counts(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT message_count FROM reports")]


def test_mixed_mailbox_every_report_once_every_mail_filed(
    server: DovecotServer, folders: Folders, db: Path, password_file: Path, cli
) -> None:
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
        server.append(folders.inbox, raw)
    options = connection_options(server, "implicit", password_file, folders)

    result = cli("--db", db, "fetch", *options, "--offline", "--format", "json")

    assert result.exit_code == 1  # as for ingest: some input was rejected
    statuses = [(o["path"], o["status"], o["reason"]) for o in json.loads(result.stdout)]
    names = [f"imap://cli/{folders.inbox}/{uid}" for uid in range(1, 13)]
    assert statuses == list(zip(names, [
        "ingested", "rejected", "ingested", "rejected", "ingested", "rejected",
        "ingested", "rejected", "ingested", "rejected", "ingested", "duplicate"], [
        None, "not_a_report", None, "unreadable", None, "not_a_report",
        None, "not_a_report", None, "not_a_report", None, None]))
    assert stored_identities(db) == expected(reports)
    assert folders.counts(server) == {"INBOX": 0, "Archive": 7, "Invalid": 5}
    # Filed unchanged: same sizes (IMAP stores CRLF line ends); sizes only, so the 30 MB mail is not read back.
    assert invalid_sizes(server, folders) == sorted(len(crlf(m)) for m in broken)
    assert count_rows(db, "rejected") == 5
    assert count_rows(db, "raw_inputs") == 5  # every rejected mail's bytes are kept

    again = cli("--db", db, "fetch", *options, "--offline", "--format", "json")
    assert (again.exit_code, json.loads(again.stdout)) == (0, [])


def test_archived_mail_is_not_marked_seen(server: DovecotServer, folders: Folders, db: Path, password_file: Path, cli) -> None:
    [mail] = report_mails(1, seed=2)
    server.append(folders.inbox, mail.raw)
    assert cli("--db", db, "fetch", *connection_options(server, "starttls", password_file, folders), "--offline").exit_code == 0
    with server.connect() as client:
        client.select_folder(folders.archive, readonly=True)
        [flags] = client.get_flags(client.search("ALL")).values()
        assert b"\\Seen" not in flags


@pytest.mark.parametrize("mode", ["none", "starttls", "implicit"])
def test_fetch_in_every_tls_mode(server: DovecotServer, folders: Folders, db: Path, password_file: Path, cli, mode: str) -> None:
    mails = report_mails(2, seed=3)
    for mail in mails:
        server.append(folders.inbox, mail.raw)
    result = cli("--db", db, "fetch", *connection_options(server, mode, password_file, folders), "--offline")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == f"2 input(s): 2 ingested; {sum(message_counts(db))} new message(s) stored"
    assert stored_identities(db) == expected(mails)
    assert folders.counts(server) == {"INBOX": 0, "Archive": 2, "Invalid": 0}


def test_wrong_password_is_a_clear_error_not_a_traceback(server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password-0xdead\n")
    result = cli("--db", db, "fetch", *connection_options(server, "implicit", wrong, folders))
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


def test_config_file_with_password_from_environment(
    server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli, monkeypatch
) -> None:
    """Several mailboxes in one config; the first one's secret comes from DMARCFLOW_MAILBOX_PASSWORD_FILE."""
    secret = tmp_path / "secret"
    secret.write_text(server.password)
    a, b = Folders(folders.prefix + "/a"), Folders(folders.prefix + "/b")
    first = mailbox_table(server, "implicit", name="first", password="", **a.table())
    second = mailbox_table(server, "starttls", name="second", **b.table())
    config = write_config(tmp_path / "dmarcflow.toml", db, [first, second])
    monkeypatch.setenv("DMARCFLOW_MAILBOX_PASSWORD_FILE", str(secret))
    mails = report_mails(4, seed=5)
    for index, mail in enumerate(mails):
        server.append(b.inbox if index % 2 else a.inbox, mail.raw)

    result = cli("--config", config, "fetch", "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert sorted(o["path"] for o in json.loads(result.stdout)) == [
        f"imap://first/{a.inbox}/1", f"imap://first/{a.inbox}/2", f"imap://second/{b.inbox}/1", f"imap://second/{b.inbox}/2"]
    assert stored_identities(db) == expected(mails)
    assert (a.counts(server), b.counts(server)) == ({"INBOX": 0, "Archive": 2, "Invalid": 0},) * 2


def test_only_the_named_mailbox(server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli) -> None:
    a, b = Folders(folders.prefix + "/a"), Folders(folders.prefix + "/b")
    boxes = [mailbox_table(server, name="a", **a.table()), mailbox_table(server, name="b", **b.table())]
    config = write_config(tmp_path / "c.toml", db, boxes)
    first, second = report_mails(2, seed=12)
    server.append(a.inbox, first.raw)
    server.append(b.inbox, second.raw)
    assert cli("--config", config, "fetch", "--mailbox", "b").exit_code == 0
    assert stored_identities(db) == expected([second])
    assert (a.counts(server), b.counts(server)) == ({"INBOX": 1}, {"INBOX": 0, "Archive": 1, "Invalid": 0})
    unknown = cli("--config", config, "fetch", "--mailbox", "c")
    assert (unknown.exit_code, unknown.stderr) == (2, "Error: configuration: no configured mailbox named c\n")


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


def test_delete_processed_removes_archived_mail_but_files_invalid_mail(
    server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli
) -> None:
    mails = report_mails(2, seed=8)
    for mail in mails:
        server.append(folders.inbox, mail.raw)
    server.append(folders.inbox, plain_mail("keep me"))
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(server, delete_processed=True, **folders.table())])
    assert cli("--config", config, "fetch").exit_code == 1
    assert stored_identities(db) == expected(mails)
    assert folders.counts(server) == {"INBOX": 0, "Archive": 0, "Invalid": 1}


def test_message_over_the_size_limit_is_filed_invalid_without_download(
    server: DovecotServer, folders: Folders, db: Path, tmp_path: Path, cli
) -> None:
    [small] = report_mails(1, seed=9)
    big = mail_with_attachment("Big", b"A" * (300 * 1024), "big.bin", "application/octet-stream")
    server.append(folders.inbox, big)
    server.append(folders.inbox, small.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(server, **folders.table())], limits={"max_message_bytes": 200_000})
    result = cli("--config", config, "fetch", "--format", "json")
    assert result.exit_code == 1
    assert [(o["path"], o["status"], o["reason"]) for o in json.loads(result.stdout)] == [
        (f"imap://reports/{folders.inbox}/1", "rejected", "too_large"), (f"imap://reports/{folders.inbox}/2", "ingested", None)]
    assert folders.counts(server) == {"INBOX": 0, "Archive": 1, "Invalid": 1}
    assert (count_rows(db, "rejected"), count_rows(db, "raw_inputs")) == (1, 0)


def test_no_mailbox_configured_is_a_configuration_error(db: Path, cli) -> None:
    result = cli("--db", db, "fetch")
    assert result.exit_code == 2
    assert result.stderr == ("Error: configuration: no mailbox configured: add a [[mailboxes]] table to the config file, "
                             "or give --host and --user\n")
