"""Dictionary ids of the daily rollup (migration 15): domains and source IPs in ``rollup_names``, the rest of a
daily row's key (the verdict as the rollup sees it) in ``rollup_verdicts``.

``RollupIds`` finds or adds ids inside the caller's write transaction and caches them for one store connection.
A rolled-back transaction or savepoint may remove ids it added, so ``forget`` (called on every rollback, with
the verdict cache) drops both caches; rows are never deleted otherwise, so ids seen in committed data stay valid.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

_NAMES_MAX = 65536  # about 100 B each: a bounded few MB, most of one big report's distinct IPs
_VERDICTS_MAX = 4096
ROLLUP_VERDICT_COLUMNS = ("header_from, class, disposition, dmarc_pass, dkim_eval, spf_eval, dkim_aligned, "
                          "spf_aligned, dkim_domain, spf_domain, dkim_result, spf_result, reasons")
# = (not IS): every column is NOT NULL ('' for none); the UNIQUE constraint's index covers them all
_FIND_VERDICT = ("SELECT id FROM rollup_verdicts WHERE "
                 + " AND ".join(f"{c.strip()} = ?" for c in ROLLUP_VERDICT_COLUMNS.split(",")))
_ADD_VERDICT = f"INSERT INTO rollup_verdicts ({ROLLUP_VERDICT_COLUMNS}) VALUES ({','.join('?' * 13)})"
# one statement for a batch of names (WHERE true: an upsert's SELECT needs a WHERE to parse); in text order,
# so that the new ids follow the text, and the rollup's rows, written in id order, reach domain_sources in its order
_ADD_NAMES = "INSERT INTO rollup_names (name) SELECT value FROM json_each(?) WHERE true ON CONFLICT DO NOTHING"
_FIND_NAMES = "SELECT name, id FROM rollup_names WHERE name IN (SELECT value FROM json_each(?))"


class RollupIds:
    """Name -> id and rollup verdict -> id, found or added in the caller's write transaction."""

    def __init__(self) -> None:
        self._names: dict[str, int] = {}
        self._verdicts: dict[tuple[Any, ...], int] = {}

    def forget(self) -> None:
        self._names.clear()
        self._verdicts.clear()

    def verdict(self, conn: sqlite3.Connection, dims: tuple[Any, ...]) -> int:
        """The id of a rollup verdict (the 13 columns of ``rollup_verdicts``, in their order)."""
        found = self._verdicts.get(dims)
        if found is not None:
            return found
        row = conn.execute(_FIND_VERDICT, dims).fetchone()
        if row:
            pk = int(row[0])
        else:
            added = conn.execute(_ADD_VERDICT, dims).lastrowid
            assert added is not None  # an INSERT always sets it
            pk = added
        if len(self._verdicts) >= _VERDICTS_MAX:
            self._verdicts.clear()
        self._verdicts[dims] = pk
        return pk

    def names(self, conn: sqlite3.Connection, names: Iterable[str]) -> dict[str, int]:
        """The ids of these names (domains, IPs), the missing ones added: two statements for all of them."""
        cache = self._names
        out: dict[str, int] = {}
        missing: list[str] = []
        for name in names:
            pk = cache.get(name)
            if pk is None:
                missing.append(name)
            else:
                out[name] = pk
        if missing:
            text = json.dumps(sorted(missing))
            conn.execute(_ADD_NAMES, (text,))
            if len(cache) + len(missing) > _NAMES_MAX:
                cache.clear()
            found: dict[str, int] = dict(conn.execute(_FIND_NAMES, (text,)))  # ids are INTEGER PRIMARY KEY: ints
            out.update(found)
            cache.update(found)
        return out
