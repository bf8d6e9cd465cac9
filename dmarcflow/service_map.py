"""parsedmarc's map of reverse-DNS base domains to sending services, looked up without reading it whole.

The map has about 39,000 rows and a 100-record ingest looks up a few dozen names: building a dict
of every row cost more than the rest of that ingest's work. The shipped file is sorted by line with
its keys already lower-case, so a lookup is a binary search over its lines and only a hit is parsed
as CSV. A file that is not sorted (another parsedmarc release may ship one) is read whole into a
dict instead, as before; a test checks that both ways answer alike for every key of the shipped file.
"""

from __future__ import annotations

import csv
import operator
from bisect import bisect_left
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

__all__ = ["Service", "ServiceMap", "read_whole"]

_MEMO_MAX = 65_536  # distinct names asked for in one process: AS domains and reverse-DNS base domains


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    type: str | None


@dataclass(frozen=True, slots=True)
class _Columns:
    key: int
    name: int
    type: int | None

    @classmethod
    def of(cls, header: list[str]) -> _Columns:
        return cls(header.index("base_reverse_dns"), header.index("name"),
                   header.index("type") if "type" in header else None)

    def service(self, row: list[str]) -> Service | None:
        if len(row) <= max(self.key, self.name) or not row[self.key]:
            return None
        kind = row[self.type].strip() if self.type is not None and self.type < len(row) else ""
        return Service(row[self.name].strip(), kind or None)


def read_whole(path: Path) -> dict[str, Service]:
    """Every row of the map as a dict (the way for a file that is not sorted)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        columns = _Columns.of(next(rows, []))
        services: dict[str, Service] = {}
        for row in rows:
            service = columns.service(row)
            if service is not None:
                services[row[columns.key].strip().lower()] = service
        return services


class ServiceMap:
    """``get(name)`` -> Service | None, the file read on the first lookup (commands that never ask never pay)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lines: list[bytes] | None = None
        self._whole: dict[str, Service] | None = None
        self._columns = _Columns(0, 1, 2)
        self._memo: dict[str, Service | None] = {}

    def get(self, name: str) -> Service | None:
        if name in self._memo:
            return self._memo[name]
        if self._lines is None and self._whole is None:
            self._load()
        found = self._whole.get(name) if self._whole is not None else self._search(name)
        if len(self._memo) < _MEMO_MAX:
            self._memo[name] = found
        return found

    def _load(self) -> None:
        # Lines are kept as bytes and only a hit is decoded: UTF-8 sorts as its characters do, and decoding
        # the whole file cost more than a short ingest's lookups.
        head, _, rest = self._path.read_bytes().partition(b"\n")
        crlf = head.endswith(b"\r")  # the shipped file ends its lines with CRLF
        one_ending = rest.count(b"\r") == (rest.count(b"\n") if crlf else 0)
        lines = rest.split(b"\r\n" if crlf else b"\n")
        if lines and not lines[-1]:
            lines.pop()
        columns = _Columns.of(next(csv.reader([head.decode("utf-8")]), []))
        if columns.key == 0 and one_ending and all(map(operator.lt, lines, islice(lines, 1, None))):
            self._lines, self._columns = lines, columns
        else:
            self._whole = read_whole(self._path)

    def _search(self, name: str) -> Service | None:
        """The last line whose key is ``name``: they sort together between ``name,`` and ``name-``."""
        lines = self._lines
        assert lines is not None
        key = name.encode("utf-8", "surrogatepass")  # a name no line can hold still sorts in its place
        first, end = bisect_left(lines, key + b","), bisect_left(lines, key + b"-")  # "-" follows "," in ASCII
        for line in reversed(lines[first:end]):
            service = self._columns.service(next(csv.reader([line.decode("utf-8")])))
            if service is not None:
                return service
        return None
