"""Writing a report's records: rows of ``record_rows`` with their verdict's id, the rollup sums, the records hash.

A record is stored as (report, position, source IP, count, verdict id); the verdict (every other column of
the ``records`` view) is stored once in ``verdicts`` (migration 14). ``Verdicts`` maps verdicts to ids for
one store connection, with a bounded cache: the same few hundred verdicts come back in every report. The
rollup's rows are summed per (source IP, rollup verdict) and merged into ``daily_rollup`` by dictionary ids
(migration 15, ``rollup_ids``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from dmarcflow.errors import ParseError
from dmarcflow.models import DkimResult, Record, SpfResult
from dmarcflow.store.rollup_ids import RollupIds

_BATCH = 5000
# rollup sums kept in memory before they are merged into daily_rollup (about 200 B each): a longer run of rows
# in key order costs less per row to merge, a fifth less from 5,000 to 20,000 for a report of distinct IPs
_ROLLUP_BATCH = 20000
_JSON_CACHE_MAX = 4096
_JSON_CACHED_LEN = 1024  # longer auth-result JSON (long human_result texts) is not kept
_VERDICT_CACHE_MAX = 4096
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER

VERDICT_COLUMNS = ("disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf, "
                   "dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class")
# IS, not =: envelope_from, envelope_to and the aligned domains may be NULL. verdicts_key covers every column.
_FIND_VERDICT = ("SELECT id FROM verdicts INDEXED BY verdicts_key WHERE "
                 + " AND ".join(f"{c.strip()} IS ?" for c in VERDICT_COLUMNS.split(",")) + " ORDER BY id LIMIT 1")
_ADD_VERDICT = f"INSERT INTO verdicts ({VERDICT_COLUMNS}) VALUES ({','.join('?' * 15)})"
_INSERT_ROWS = "INSERT INTO record_rows (report, position, source_ip, count, verdict) VALUES (?,?,?,?,?)"
_MERGE_SUMS = (
    "INSERT INTO daily_rollup (domain, day, source, verdict, messages, records) VALUES (?,?,?,?,?,?) "
    "ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, records = records + excluded.records"
)


def fingerprint(row: tuple[Any, ...]) -> bytes:
    """Stable bytes for a record row (without report id and position), for duplicate-versus-conflict."""
    return repr(row[2:]).encode()


def hash_records(records: Iterable[Record]) -> tuple[str, int, int]:
    hasher = hashlib.sha256()
    encoder = RowEncoder()
    count = messages = 0
    for record in records:
        hasher.update(fingerprint(encoder.row(0, count, record)))
        count += 1
        messages += record.count
    check_sum(messages)
    return hasher.hexdigest(), count, messages


def check_sum(messages: int) -> None:
    if messages > MAX_INTEGER:
        raise ParseError("invalid_value", "the report's record counts add up to more than 2^63-1 messages")


class RowEncoder:
    """Record -> the row of the ``records`` view (what the records hash is computed over, since schema 1).

    JSON of auth results is cached: a report repeats the same few.
    """

    def __init__(self) -> None:
        self._json: dict[tuple[Any, ...], str] = {}

    def _auth(self, results: tuple[Any, ...]) -> str:
        text = self._json.get(results)
        if text is None:
            text = json.dumps([{k: getattr(r, k) for k in r.__slots__} for r in results], separators=(",", ":"))
            if len(self._json) < _JSON_CACHE_MAX and len(text) <= _JSON_CACHED_LEN:
                self._json[results] = text
        return text

    def row(self, pk: int, position: int, r: Record) -> tuple[Any, ...]:
        return (pk, position, r.source_ip, r.count, *self.verdict(r))

    def verdict(self, r: Record) -> tuple[Any, ...]:
        """The row's columns after the count: what ``verdicts`` keeps once."""
        a = r.alignment
        return (
            r.disposition, r.dkim_evaluated, r.spf_evaluated, r.header_from, r.envelope_from, r.envelope_to,
            self._auth(r.reasons) if r.reasons else "[]",
            self._auth(r.dkim), self._auth(r.spf), int(r.dmarc_pass), int(a.dkim), int(a.spf),
            a.dkim_domain, a.spf_domain, r.source_class,
        )


class VerdictIds:
    """A verdict's ids: in ``verdicts`` (``pk``) and, once a rollup needs it, in ``rollup_verdicts``."""

    __slots__ = ("dims", "pk", "rollup", "text")

    def __init__(self, pk: int, dims: tuple[Any, ...], text: str) -> None:
        self.pk = pk
        self.dims = dims  # the rollup verdict's columns (rollup_verdicts' order), which depend only on the verdict
        self.rollup = 0  # 0: not looked up yet (ids start at 1)
        # the fingerprint's text after IP and count: a fingerprint is the repr of (ip, count, *verdict), and
        # the repr of a tuple is its items' reprs joined by ", ", so the verdict's part is written once
        self.text = text


class Verdicts:
    """Verdict -> its ids, found or added inside the caller's write transaction.

    The cache holds ids of rows this connection saw; a rolled-back transaction or savepoint may have
    removed rows it added, so ``forget`` (called on every rollback) drops the whole cache, the rollup's
    ids included. Rows are never deleted otherwise, so ids seen in committed data stay valid.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[Any, ...], VerdictIds] = {}
        # a shared combination (``SharedRecords.flat``) -> (its fingerprint text after IP and count, its verdict's ids):
        # the reports of one reporter repeat the same few, so each is encoded and looked up once, not once a report
        self.combinations: dict[tuple[Any, ...], tuple[str, VerdictIds]] = {}
        self.rollup_ids = RollupIds()

    def forget(self) -> None:
        self._ids.clear()
        self.combinations.clear()
        self.rollup_ids.forget()

    def of(self, conn: sqlite3.Connection, key: tuple[Any, ...], record: Record) -> VerdictIds:
        """The ids of the verdict ``key`` (a row's columns 4 on)."""
        found = self._ids.get(key)
        if found is not None:
            return found
        row = conn.execute(_FIND_VERDICT, key).fetchone()
        pk = int(row[0]) if row else _added(conn.execute(_ADD_VERDICT, key).lastrowid)
        if len(self._ids) >= _VERDICT_CACHE_MAX:
            self._ids.clear()
        found = self._ids[key] = VerdictIds(pk, _dims(record), repr(key)[1:])
        return found

    def rollup(self, conn: sqlite3.Connection, ids: VerdictIds) -> int:
        """The verdict's id in ``rollup_verdicts`` (looked up once per cached verdict)."""
        if not ids.rollup:
            ids.rollup = self.rollup_ids.verdict(conn, ids.dims)
        return ids.rollup


def _added(rowid: int | None) -> int:
    assert rowid is not None  # an INSERT always sets it
    return rowid


def _dims(record: Record) -> tuple[Any, ...]:
    """The rollup verdict's columns (``rollup_verdicts``, daily_sources' key order after the source IP)."""
    a = record.alignment
    return (
        record.header_from,
        record.source_class,
        record.disposition,
        int(record.dmarc_pass),
        record.dkim_evaluated,
        record.spf_evaluated,
        int(a.dkim),
        int(a.spf),
        a.dkim_domain or "",
        a.spf_domain or "",
        _first_result(record.dkim, a.dkim_domain),
        _first_result(record.spf, a.spf_domain),
        ",".join(sorted({r.type for r in record.reasons})),
    )


def _first_result(results: tuple[DkimResult, ...] | tuple[SpfResult, ...], domain: str | None) -> str:
    for r in results:
        if r.domain == domain:
            return r.result
    return results[0].result if results else ""


class SharedRecords(Protocol):
    """Records given as their distinct combinations of everything but IP and count, and three columns
    (``kinds.compact_records``): the writer encodes, hashes the tail of and finds the verdict of each
    combination once, not once per record. ``flat[i]`` is combination i as plain tuples (its key in the
    writer's cache), ``combination(i)`` the combination itself (built only when the cache does not hold it)."""

    @property
    def flat(self) -> Sequence[tuple[Any, ...]]: ...
    def combination(self, index: int) -> tuple[Any, ...]: ...
    @property
    def ips(self) -> Sequence[str]: ...
    @property
    def counts(self) -> Sequence[int]: ...
    @property
    def which(self) -> Sequence[int]: ...


class RecordWriter:
    """Buffers record rows and rollup sums for one report, a bounded batch at a time.

    The report's row may not exist yet (``pk`` None): ``begin`` inserts it when the first batch must be
    written, so that a report whose records fit in one batch is inserted once, complete (``finish``).
    Rollup sums are merged into daily_sources whenever the batch is full (the upsert adds them up), so
    memory does not grow with the number of distinct sources in one report.
    """

    def __init__(self, conn: sqlite3.Connection, pk: int | None, domain: str, day: int, rollup: bool,
                 encoder: RowEncoder, verdicts: Verdicts, begin: Callable[[], int]) -> None:
        self.conn, self.pk, self.rollup = conn, pk, rollup
        self.domain, self.day = domain, day
        self.hasher = hashlib.sha256()
        self.encoder, self.verdicts, self._begin = encoder, verdicts, begin
        self.started = False  # whether ``begin`` inserted the report's row (before its first batch)
        # messages and records per source IP while the report fits in one batch (then one executemany
        # fills report_sources); a bigger one is summed from its stored rows instead (no set of IPs kept)
        self.sources: dict[str, list[int]] | None = {} if pk is None else None
        self.count = self.messages = 0
        self.rows: list[tuple[Any, ...]] = []
        self.sums: dict[tuple[str, int], list[int]] = {}  # (source IP, rollup verdict id) -> messages, records

    def add(self, r: Record) -> None:
        ids = self.verdicts.of(self.conn, self.encoder.verdict(r), r)
        self.hasher.update(f"({r.source_ip!r}, {r.count!r}, {ids.text}".encode())  # fingerprint(row)
        self.rows.append((self.count, r.source_ip, r.count, ids.pk))
        if self.sources is not None:
            source = self.sources.get(r.source_ip)
            if source is None:
                self.sources[r.source_ip] = [r.count, 1]
            else:
                source[0] += r.count
                source[1] += 1
        self.count += 1
        self.messages += r.count
        if self.messages > MAX_INTEGER:
            check_sum(self.messages)
        if self.rollup:
            self._sum(r.source_ip, ids, r.count)
        if len(self.rows) >= _BATCH:
            self._flush()

    def add_shared(self, records: SharedRecords) -> None:
        """``add`` for each record, in order: the same rows, records hash and rollup sums."""
        # (fingerprint's text after IP and count, verdict ids) per combination. A record's
        # fingerprint is repr of (ip, count, *tail): the repr of a tuple is its items' reprs joined by ", ".
        shared: dict[int, tuple[str, VerdictIds]] = {}
        flat, sources, update = records.flat, self.sources, self.hasher.update
        for ip, n, index in zip(records.ips, records.counts, records.which, strict=True):
            entry = shared.get(index)
            if entry is None:
                entry = shared[index] = self._combination(records, flat[index], index, ip, n)
            text, ids = entry
            update(f"({ip!r}, {n!r}, {text}".encode())
            self.rows.append((self.count, ip, n, ids.pk))
            if sources is not None:
                source = sources.get(ip)
                if source is None:
                    sources[ip] = [n, 1]
                else:
                    source[0] += n
                    source[1] += 1
            self.count += 1
            self.messages += n
            if self.messages > MAX_INTEGER:
                check_sum(self.messages)
            if self.rollup:
                self._sum(ip, ids, n)
            if len(self.rows) >= _BATCH:
                self._flush()
                sources = self.sources

    def _combination(self, records: SharedRecords, key: tuple[Any, ...], index: int, ip: str,
                     n: int) -> tuple[str, VerdictIds]:
        """(fingerprint text after IP and count, verdict ids) of a shared combination, from the store's cache."""
        cache = self.verdicts.combinations
        found = cache.get(key)
        if found is None:
            r = Record(ip, n, *records.combination(index))
            tail = self.encoder.row(0, 0, r)[4:]
            found = (repr(tail)[1:], self.verdicts.of(self.conn, tail, r))
            if len(cache) >= _VERDICT_CACHE_MAX:
                cache.clear()
            cache[key] = found
        return found

    def _sum(self, ip: str, ids: VerdictIds, count: int) -> None:
        """One record's share of the rollup sums."""
        sums = self.sums.setdefault((ip, ids.rollup or self.verdicts.rollup(self.conn, ids)), [0, 0])
        sums[0] += count
        sums[1] += 1
        if len(self.sums) >= _ROLLUP_BATCH:
            self._flush_sums()

    def _flush(self) -> None:
        if self.pk is None:
            self.pk, self.started, self.sources = self._begin(), True, None
        pk = self.pk
        self.conn.executemany(_INSERT_ROWS, [(pk, *row) for row in self.rows])
        self.rows.clear()

    def finish(self, complete: Callable[[str], int]) -> int:
        """Write what is buffered; ``complete(records hash)`` inserts the report's row if no batch did. The pk."""
        if self.pk is None:
            self.pk = complete(self.hasher.hexdigest())
        if self.rows:
            self._flush()
        self._flush_sums()
        return self.pk

    def _flush_sums(self) -> None:
        if not self.sums:
            return
        ids = self.verdicts.rollup_ids.names(self.conn, {self.domain, *(ip for ip, _ in self.sums)})
        domain, day = ids[self.domain], self.day
        # in key order: the upsert then walks the rollup's B-tree forward instead of jumping about
        self.conn.executemany(_MERGE_SUMS, sorted([(domain, day, ids[ip], verdict, m, n)
                                                   for (ip, verdict), (m, n) in self.sums.items()]))
        self.sums.clear()
