"""`dmarcflow fetch` onto a store whose disk fills up: the mails stored before are filed and printed, the
rest stay in the reports folder, and one `Error:` line says why (real Dovecot, real 1 MiB tmpfs; root only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.dovecot import DovecotServer
from tests.support.filesystems import remount, tmpfs
from tests.support.imap_mail import Folders, report_mails, stored_identities

MAILS = 10


@pytest.fixture(autouse=True)
def _a_commit_per_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each mail of 600 records its own commit, so that some commits succeed before the disk is full."""
    monkeypatch.setattr("dmarcflow.ingest.GROUP_RECORDS", 600)


@pytest.fixture
def server(shared_dovecot: DovecotServer) -> DovecotServer:
    return shared_dovecot


def test_fetch_onto_a_full_disk_files_what_was_stored_and_stops_with_one_line(
    server: DovecotServer, folders: Folders, tmp_path: Path, cli
) -> None:
    mails = report_mails(MAILS, seed=5, records=600)
    for mail in mails:
        server.append(folders.inbox, mail.raw)
    password = tmp_path / "pw"
    password.write_text(server.password)
    options = ["--host", server.host, "--port", str(server.tls_port), "--tls", "implicit", "--ca-file", str(server.ca_file),
               "--user", server.user, "--password-file", str(password), *folders.options(), "--offline", "--format", "json"]
    with tmpfs(tmp_path / "small", "1m") as small:
        db = small / "store.sqlite"
        result = cli("--db", db, "fetch", *options)
        assert result.exit_code == 1
        assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
            f"Error: cannot write to the store at {db}: the disk is full (database or disk is full): free some space "
            "and run the command again; everything stored before this point is kept"]
        done = json.loads(result.stdout)
        assert 1 <= len(done) < MAILS
        assert {o["status"] for o in done} == {"ingested"}
        assert folders.counts(server) == {"INBOX": MAILS - len(done), "Archive": len(done), "Invalid": 0}
        assert len(stored_identities(db)) == len(done)

        remount(small, "size=64m")
        again = cli("--db", db, "fetch", *options)
        assert again.exit_code == 0, again.stderr
        assert [o["status"] for o in json.loads(again.stdout)] == ["ingested"] * (MAILS - len(done))
        assert folders.counts(server) == {"INBOX": 0, "Archive": MAILS, "Invalid": 0}
        assert len(stored_identities(db)) == MAILS
