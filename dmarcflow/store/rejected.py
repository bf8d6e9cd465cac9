"""Rejected inputs: kept once per (input, payload, reason, bytes), with a seen count; their raw bytes once per sha256.

An input too large to keep whole (or never downloaded) is still recorded, with its size and, where its
bytes could be read, their sha256, and its message says that and why its bytes were not kept.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dmarcflow.store.repository import Repository
from dmarcflow.utc import now_iso

KEEP_MAX_BYTES = 256 << 20  # larger rejected files stay where they are, on disk; the store keeps their sha256
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawInput:
    """The bytes of a rejected input as the store records them: kept whole, or only described."""

    sha256: str | None
    size: int | None
    data: bytes | None = field(default=None, repr=False)
    not_kept: str = ""  # why the bytes are not kept ("" when they are)

    @classmethod
    def of_bytes(cls, data: bytes) -> RawInput:
        if len(data) > KEEP_MAX_BYTES:
            return cls(hashlib.sha256(data).hexdigest(), len(data), None, _too_large(len(data)))
        return cls(hashlib.sha256(data).hexdigest(), len(data), data)

    @classmethod
    def of_file(cls, path: str | os.PathLike[str]) -> RawInput:
        """The file's bytes when small enough, else its size and sha256 (read in chunks, never whole)."""
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                return cls(None, None, None, "its bytes were not kept: not a regular file")
            if info.st_size <= KEEP_MAX_BYTES:
                return cls.of_bytes(Path(path).read_bytes())
            digest = hashlib.sha256()
            size = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(_HASH_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            return cls(None, None, None, f"its bytes were not kept: they could not be read ({exc.strerror})")
        return cls(digest.hexdigest(), size, None, _too_large(size))

    @classmethod
    def not_downloaded(cls, size: int, why: str) -> RawInput:
        return cls(None, size, None, why)


def _too_large(size: int) -> str:
    return f"its {size} bytes were not kept: larger than the {KEEP_MAX_BYTES >> 20} MiB the store keeps of a rejected input"


@dataclass(frozen=True)
class RejectedRow:
    id: int
    input: str
    payload: str
    reason: str
    message: str
    raw_sha256: str | None  # set when the bytes are kept (``rejected --save`` can write them)
    rejected_at: str  # first seen
    sha256: str | None  # of the input's bytes, kept or not; None when they were never read
    size: int | None
    seen_count: int
    last_seen_at: str

    @property
    def raw_kept(self) -> bool:
        return self.raw_sha256 is not None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "raw_kept": self.raw_kept}


_COLUMNS = "id, input, payload, reason, message, raw_sha256, rejected_at, sha256, size, seen_count, last_seen_at"


class RejectedRepository(Repository):
    """``rejected`` and ``raw_inputs``: every rejected input once, with its bytes when they are kept."""

    def save(self, input_name: str, payload: str, reason: str, message: str, raw: RawInput | bytes | None) -> int:
        """Record one rejection (inside ``Store.transaction()``); the same one again only counts as seen again."""
        return save(self._conn, input_name, payload, reason, message, raw)

    def first_of(self, sha256: str) -> tuple[str, str] | None:
        """(reason, message) of the first rejection of the bytes with this sha256, if any."""
        with self._reading() as conn:
            return find_by_sha256(conn, sha256)

    def has_unread(self, input_name: str, reason: str) -> bool:
        """Whether this input was rejected for this reason already, without its bytes being read."""
        with self._reading() as conn:
            return exists(conn, input_name, reason)

    def rows(self, *, limit: int | None = None, offset: int = 0, newest_first: bool = False) -> list[RejectedRow]:
        with self._reading() as conn:
            return rows(conn, limit=limit, offset=offset, newest_first=newest_first)

    def count(self) -> int:
        with self._reading() as conn:
            return count(conn)

    def raw_of(self, rejected_id: int) -> bytes | None:
        """The kept bytes of a rejected input; None for an unknown id or bytes that were not kept."""
        with self._reading() as conn:
            return raw_of(conn, rejected_id)

    def raw_by_sha256(self, sha256: str) -> bytes | None:
        with self._reading() as conn:
            return raw_by_sha256(conn, sha256)


def save(conn: sqlite3.Connection, input_name: str, payload: str, reason: str, message: str,
         raw: RawInput | bytes | None) -> int:
    """Record one rejection (call inside a write transaction); the same one again only counts as seen again."""
    if isinstance(raw, bytes):
        raw = RawInput.of_bytes(raw)
    kept = None
    if raw is not None and raw.data is not None:
        kept = raw.sha256
        conn.execute(
            "INSERT OR IGNORE INTO raw_inputs (sha256, size, data) VALUES (?,?,?)",
            (raw.sha256, len(raw.data), zlib.compress(raw.data, 6)),
        )
    if raw is not None and raw.not_kept and raw.not_kept not in message:
        message = f"{message} ({raw.not_kept})"
    now = now_iso()
    sha, size = (raw.sha256, raw.size) if raw is not None else (None, None)
    conn.execute(
        "INSERT INTO rejected (input, payload, reason, message, raw_sha256, rejected_at, sha256, size, seen_count, "
        "last_seen_at) VALUES (?,?,?,?,?,?,?,?,1,?) "
        "ON CONFLICT (input, payload, reason, coalesce(sha256, '')) DO UPDATE SET seen_count = seen_count + 1, "
        "last_seen_at = excluded.last_seen_at, message = excluded.message, "
        "raw_sha256 = coalesce(excluded.raw_sha256, raw_sha256), size = coalesce(excluded.size, size)",
        (input_name, payload, reason, message, kept, now, sha, size, now),
    )
    row = conn.execute(
        "SELECT id FROM rejected WHERE input = ? AND payload = ? AND reason = ? AND coalesce(sha256, '') = ?",
        (input_name, payload, reason, sha or ""),
    ).fetchone()
    return int(row[0])


def find_by_sha256(conn: sqlite3.Connection, sha256: str) -> tuple[str, str] | None:
    """(reason, message) of the first rejection of these bytes, if any."""
    row = conn.execute(
        "SELECT reason, message FROM rejected WHERE sha256 = ? ORDER BY id LIMIT 1", (sha256,)
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def exists(conn: sqlite3.Connection, input_name: str, reason: str) -> bool:
    """Whether this input was already rejected for this reason without its bytes being read."""
    row = conn.execute(
        "SELECT 1 FROM rejected WHERE input = ? AND reason = ? AND sha256 IS NULL LIMIT 1", (input_name, reason)
    ).fetchone()
    return row is not None


def rows(conn: sqlite3.Connection, *, limit: int | None = None, offset: int = 0,
         newest_first: bool = False) -> list[RejectedRow]:
    """Rejected inputs in the order they were first seen (or the newest first), ``limit`` from ``offset``."""
    order = "DESC" if newest_first else ""
    found = conn.execute(f"SELECT {_COLUMNS} FROM rejected ORDER BY id {order} LIMIT ? OFFSET ?",
                         (-1 if limit is None else limit, offset))
    return [RejectedRow(*r) for r in found]  # the row is the type's fields, in _COLUMNS order


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])


def raw_of(conn: sqlite3.Connection, rejected_id: int) -> bytes | None:
    row = conn.execute(
        "SELECT d.data FROM rejected r JOIN raw_inputs d ON d.sha256 = r.raw_sha256 WHERE r.id = ?", (rejected_id,)
    ).fetchone()
    return zlib.decompress(row[0]) if row else None


def raw_by_sha256(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT data FROM raw_inputs WHERE sha256 = ?", (sha256,)).fetchone()
    return zlib.decompress(row[0]) if row else None
