"""Opening the SQLite file: a writer (may create the store, migrates it) or a reader (read-only, never creates).

Readers must work for a user who cannot write the store (a store owned by the daemon's user, a read-only
folder or mount). In WAL mode a reader needs the ``-shm`` index next to the file; when it cannot be
created and there is no ``-wal`` file holding commits not yet copied into the database, the file alone
is the whole store and is opened ``immutable``. Every SQLite failure is turned into one plain line.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

from dmarcflow.errors import StoreError, StoreNotFoundError
from dmarcflow.store.schema import MIGRATIONS, migrate, version_of

# What a store operation may still raise unwrapped (the engine's own error class: a write outside
# ``Store.transaction()``, a blob read): callers catch this name and never import the engine's module.
DatabaseError = sqlite3.Error
BUSY_TIMEOUT_MS = 300_000  # a concurrent writer may be storing a very large report
_WAL_RETRY_SECONDS = BUSY_TIMEOUT_MS / 1000
_NO_SHM = {"SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN", "SQLITE_READONLY_CANTINIT", "SQLITE_READONLY"}

_PLAIN = {
    "SQLITE_FULL": "the disk is full (database or disk is full): free some space and run the command again; "
                   "everything stored before this point is kept",
    "SQLITE_NOTADB": "the file is not a dmarcflow store (file is not a database)",
    "SQLITE_CORRUPT": "the store file is damaged (database disk image is malformed): restore it from a backup",
    "SQLITE_BUSY": "another process held the store's lock for too long (database is locked)",
    "SQLITE_CANTOPEN": "the file cannot be opened (unable to open database file): check that its folder exists "
                       "and that this user may read it",
    "SQLITE_PERM": "this user may not open the file (access permission denied)",
}


def describe(exc: sqlite3.Error, path: Path | None = None) -> str:
    """One line in plain words for an SQLite failure, with SQLite's own text kept in it."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY") and path is not None and _on_read_only_mount(path):
        return f"the filesystem holding the store is mounted read-only ({exc})"
    if name in _PLAIN:
        return _PLAIN[name]
    if name.startswith("SQLITE_IOERR"):
        return f"an I/O error on the disk ({exc}): check the disk and free space, then run the command again"
    if name.startswith("SQLITE_READONLY"):
        return f"the store is read-only for this user ({exc}): run the command as the store's owner or fix its permissions"
    if name.startswith("SQLITE_CORRUPT"):
        return _PLAIN["SQLITE_CORRUPT"]
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return _PLAIN["SQLITE_BUSY"]
    return str(exc)


def _on_read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path if path.exists() else path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def open_writer(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection that may write: WAL mode, migrated to the newest schema. ``create``: make the store if missing."""
    _check_path(path, must_exist=not create)
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for the store at {path}: {exc.strerror}") from None
    conn = None
    try:
        conn = _connect(path, "rwc" if create else "rw")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise StoreError(f"cannot open the store at {path}: {describe(exc, path)}") from None
    except StoreError:
        if conn is not None:
            conn.close()
        raise
    return conn


def open_reader(path: Path, *, migrate_older: bool = True) -> sqlite3.Connection:
    """A read-only connection to a store with the newest schema; never creates a file.

    A store with an older schema is migrated first when this user can write it (migrations are the
    one write a reader makes), else it is an error that says so. ``migrate_older=False`` (the web UI,
    which must never write): an older schema is an error at once.
    """
    conn, version = _read_only(path)
    if version == len(MIGRATIONS):
        return conn
    conn.close()
    if version == 0:
        raise StoreError(f"{path} is not a dmarcflow store (it has no schema): check --db, DMARCFLOW_DB or [store] path")
    if version < len(MIGRATIONS) and not migrate_older:
        raise StoreError(f"the store at {path} has schema version {version}, this dmarcflow needs {len(MIGRATIONS)}: "
                         "run a command that writes to it once (ingest, fetch or watch), which migrates it")
    if version < len(MIGRATIONS):
        try:
            open_writer(path, create=False).close()
        except StoreError as exc:
            raise StoreError(
                f"the store at {path} has schema version {version} and this dmarcflow needs {len(MIGRATIONS)}, "
                f"but cannot upgrade it ({exc}): run a writing command (ingest, fetch, watch) once as a user "
                "who can write the store"
            ) from None
    conn, version = _read_only(path)
    if version != len(MIGRATIONS):
        conn.close()
        raise StoreError(f"the store at {path} has schema version {version}; this dmarcflow knows "
                         f"{len(MIGRATIONS)}: upgrade dmarcflow")
    return conn


def _read_only(path: Path) -> tuple[sqlite3.Connection, int]:
    """A read-only connection and the store's schema version."""
    _check_path(path, must_exist=True)
    try:
        conn = _connect(path, "ro")
        try:
            return conn, version_of(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if getattr(exc, "sqlite_errorname", "") not in _NO_SHM or _has_unmerged_wal(path):
                raise
        # No -shm can be made here and no -wal holds pending commits: the file is the whole store.
        conn = _connect(path, "ro", immutable=True)
        return conn, version_of(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the store at {path}: {describe(exc, path)}") from None


def _check_path(path: Path, *, must_exist: bool) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise StoreError(f"cannot reach the store at {path}: {exc.strerror} (check the permissions of its folders)") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise StoreError(f"the store path {path} is a folder: give a file, e.g. {path / 'dmarcflow.sqlite'}")
    if must_exist and info is None:
        raise StoreNotFoundError(
            f"no store at {path}: check --db, DMARCFLOW_DB or [store] path; "
            "a store is created by the first `dmarcflow ingest`, `fetch` or `watch`"
        )


def _connect(path: Path, mode: str, immutable: bool = False) -> sqlite3.Connection:
    uri = f"{path.absolute().as_uri()}?mode={mode}" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def _has_unmerged_wal(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size > 0
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: do not risk reading a stale file


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new store to WAL once. Several processes may try at the same moment; a switch that finds
    the file busy can come back unchanged or refused, and is then tried again until the busy timeout."""
    deadline = time.monotonic() + _WAL_RETRY_SECONDS
    while True:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if not name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise StoreError("cannot switch the store to WAL mode: another process keeps it locked")
        time.sleep(0.02)
