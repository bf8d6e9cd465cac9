"""Read commands open the store read-only and never create it; they work where the user cannot write.

The tests run as root, who may write anything, so the unwritable cases run the real CLI as the
unprivileged user ``nobody`` (setpriv), or put the store on a tmpfs remounted read-only.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmarcflow.config import Limits
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from dmarcflow.store.schema import MIGRATIONS
from tests.conftest import SAMPLES
from tests.support.filesystems import remount, tmpfs
from tests.support.report_xml import report

# Every command that only reads, with the arguments it needs. None of them may create or change a store.
READERS = [
    ("summary",),
    ("summary", "--format", "json"),
    ("senders", "example.com"),
    ("reports", "--format", "json"),
    ("rejected", "--format", "json"),
    ("es", "status", "--format", "json"),
]
READ_ONLY_USER = ("the store is read-only for this user (attempt to write a readonly database): "
                  "run the command as the store's owner or fix its permissions")

READ_ONLY_MOUNT = "the filesystem holding the store is mounted read-only (attempt to write a readonly database)"


@pytest.fixture(autouse=True)
def _es_url(monkeypatch):
    monkeypatch.setenv("DMARCFLOW_ELASTICSEARCH_URL", "http://127.0.0.1:9")  # es status reads only the store


@pytest.fixture
def ingestor_for(offline_enricher):
    return lambda store: Ingestor(store, offline_enricher, Limits())


def _missing(path: Path) -> str:
    return (f"Error: no store at {path}: check --db, DMARCFLOW_DB or [store] path; "
            "a store is created by the first `dmarcflow ingest`, `fetch` or `watch`")


@pytest.mark.parametrize(
    "args", READERS + [("rejected", "--save", "1", "--output", "OUT"), ("reprocess",), ("es", "sync")],
    ids=" ".join,
)
def test_a_missing_store_is_an_error_naming_it_and_nothing_is_created(cli, tmp_path, args):
    db = tmp_path / "typo" / "store.sqlite"
    args = tuple(str(tmp_path / "out.xml") if a == "OUT" else a for a in args)
    result = cli("--db", db, *args)
    assert (result.exit_code, result.stderr.strip(), result.stdout) == (2, _missing(db), "")
    assert list(tmp_path.iterdir()) == []


def test_reading_changes_nothing_in_the_store(cli, tmp_path):
    db = tmp_path / "store.sqlite"
    assert cli("--db", db, "ingest", "--offline", SAMPLES).exit_code == 0
    before = db.read_bytes()
    for args in READERS:
        result = cli("--db", db, *args)
        assert result.exit_code == 0, (args, result.stderr)
    assert db.read_bytes() == before
    # A read-only connection may leave SQLite's (empty) WAL files behind; it never writes into them.
    assert {p.name: p.stat().st_size for p in tmp_path.iterdir() if p.name.endswith("-wal")} in ({}, {"store.sqlite-wal": 0})


def test_an_empty_file_is_not_a_store(cli, tmp_path):
    db = tmp_path / "empty.sqlite"
    db.touch()
    result = cli("--db", db, "reports")
    assert (result.exit_code, result.stderr.strip()) == (
        1, f"Error: {db} is not a dmarcflow store (it has no schema): check --db, DMARCFLOW_DB or [store] path")
    assert db.read_bytes() == b""


# ------------------------------------------------------------------ as a user who cannot write


@pytest.fixture
def nobody() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the CLI as the unprivileged user nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user named nobody")
    probe = subprocess.run(
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
         sys.executable, "-c", "import dmarcflow"], capture_output=True, text=True, timeout=60, cwd="/")
    if probe.returncode != 0:
        # e.g. an editable install into an interpreter under /root (mode 700): use a virtual environment
        # outside /root, as scripts/test.sh does.
        pytest.skip(f"the user nobody cannot import dmarcflow from {sys.executable}: {probe.stderr.strip()[-200:]}")
    return user


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder that nobody can enter (pytest's own tmp folders are root's alone), owned by root."""
    path = Path(tempfile.mkdtemp(prefix="dmarcflow-ro-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def as_nobody(user: pwd.struct_passwd, home: Path, *args: object) -> subprocess.CompletedProcess[str]:
    command = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
               sys.executable, "-m", "dmarcflow", *map(str, args)]
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "c"), "XDG_DATA_HOME": str(home / "d")}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd="/")


def _store_with_samples(cli, folder: Path) -> Path:
    db = folder / "store.sqlite"
    assert cli("--db", db, "ingest", "--offline", SAMPLES).exit_code == 0
    bad = folder / "bad.xml"
    bad.write_bytes(b"<feedback>")
    assert cli("--db", db, "ingest", "--offline", bad).exit_code == 1
    return db


def _answers(cli, db: Path) -> dict[tuple[str, ...], str]:
    return {args: cli("--db", db, *args).stdout for args in READERS}


def _home(shared: Path, user: pwd.struct_passwd) -> Path:
    home = shared / "home"
    home.mkdir()
    os.chown(home, user.pw_uid, user.pw_gid)
    return home


def test_a_store_in_a_folder_the_user_cannot_write_answers_every_read_command(cli, nobody, shared):
    store_dir = shared / "store"
    store_dir.mkdir(mode=0o755)
    db = _store_with_samples(cli, store_dir)
    expected = _answers(cli, db)
    home = _home(shared, nobody)
    # First with the (empty) -wal and -shm files root's readers left, then without them: SQLite needs
    # to create the -shm file and cannot, and dmarcflow opens the fully checkpointed file as it is.
    for leftovers in (True, False):
        if not leftovers:
            for name in ("store.sqlite-wal", "store.sqlite-shm"):
                (store_dir / name).unlink()
        for args in READERS:
            result = as_nobody(nobody, home, "--db", db, *args)
            assert (result.returncode, result.stdout) == (0, expected[args]), (leftovers, args, result.stderr)
    assert sorted(p.name for p in store_dir.iterdir()) == ["bad.xml", "store.sqlite"]
    saved = home / "kept.xml"
    result = as_nobody(nobody, home, "--db", db, "rejected", "--save", "1", "--output", saved)
    assert (result.returncode, saved.read_bytes()) == (0, b"<feedback>"), result.stderr
    samples = shutil.copytree(SAMPLES, shared / "samples")  # the checkout itself may be private (mktemp -d)
    ingest = as_nobody(nobody, home, "--db", db, "ingest", "--offline", samples)
    assert ingest.returncode == 1
    assert ingest.stderr.strip() == f"Error: cannot open the store at {db}: {READ_ONLY_USER}"
    assert sorted(p.name for p in store_dir.iterdir()) == ["bad.xml", "store.sqlite"]


def test_a_read_only_file_in_a_folder_the_user_may_write(cli, nobody, shared):
    store_dir = shared / "store"
    store_dir.mkdir()
    db = _store_with_samples(cli, store_dir)
    expected = _answers(cli, db)
    db.chmod(0o444)
    os.chown(store_dir, nobody.pw_uid, nobody.pw_gid)  # nobody may create the -shm file here, not write the store
    home = _home(shared, nobody)
    for args in READERS:
        result = as_nobody(nobody, home, "--db", db, *args)
        assert (result.returncode, result.stdout) == (0, expected[args]), (args, result.stderr)
    assert db.stat().st_mode & 0o777 == 0o444


def test_readers_see_commits_still_in_the_wal_of_a_running_writer(cli, nobody, shared, ingestor_for):
    store_dir = shared / "store"
    store_dir.mkdir(mode=0o755)
    db = _store_with_samples(cli, store_dir)
    home = _home(shared, nobody)
    with Store.open(db) as writer:  # like a running daemon: its -wal and -shm exist while it is open
        writer.conn.execute("PRAGMA wal_autocheckpoint=0")
        assert ingestor_for(writer).ingest_bytes("late.xml", report(report_id="late-1")).status == "ingested"
        assert (store_dir / "store.sqlite-wal").stat().st_size > 0
        for path in store_dir.iterdir():
            path.chmod(0o644) if path.is_file() else None
        result = as_nobody(nobody, home, "--db", db, "reports", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "late-1" in [r["report_id"] for r in json.loads(result.stdout)]


def test_an_old_schema_is_upgraded_by_a_reader_that_may_write_and_explained_to_one_that_may_not(cli, nobody, shared):
    store_dir = shared / "store"
    store_dir.mkdir(mode=0o755)
    db = store_dir / "store.sqlite"
    with sqlite3.connect(db) as conn:  # a store as the previous release left it: three migrations
        conn.execute("PRAGMA journal_mode=WAL")
        for script in MIGRATIONS[:3]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    home = _home(shared, nobody)
    refused = as_nobody(nobody, home, "--db", db, "reports")
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(f"Error: the store at {db} has schema version 3 and this dmarcflow "
                                             f"needs {len(MIGRATIONS)}, but cannot upgrade it (")
    assert refused.stderr.strip().endswith("run a writing command (ingest, fetch, watch) once as a user who can "
                                           "write the store")
    upgraded = cli("--db", db, "reports", "--format", "json")
    assert (upgraded.exit_code, upgraded.stdout.strip()) == (0, "[]")
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_read_only_mount_answers_reads_even_for_root(cli, tmp_path):
    with tmpfs(tmp_path / "ro", "8m") as mount:
        db = _store_with_samples(cli, mount)
        expected = _answers(cli, db)
        remount(mount, "ro")
        for args in READERS:
            result = cli("--db", db, *args)
            assert (result.exit_code, result.stdout) == (0, expected[args]), (args, result.stderr)
        new = tmp_path / "new.xml"
        new.write_bytes(report(report_id="new-1"))
        ingest = cli("--db", db, "ingest", "--offline", new)
        assert (ingest.exit_code, ingest.stderr.strip()) == (1, f"Error: cannot write to the store at {db}: {READ_ONLY_MOUNT}")
