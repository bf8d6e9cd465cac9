"""An aggregate report's records in a form that is cheap to pickle, for ``ingest --jobs``.

A worker process parses a report; the writer stores it. Pickling ``Record`` objects one by one costs
about as much as a fifth of parsing them (a frozen slotted dataclass is rebuilt field by field), while
a report repeats only a few hundred combinations of everything but the source IP and the count. So
the records travel as those distinct combinations once, and three flat columns (IP, count, which
combination): about 30 bytes a record, and a tenth of the pickling time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from dmarcflow.errors import TooLargeForWorker
from dmarcflow.models import Record

_NAMES = tuple(f.name for f in fields(Record))
# A record is (source_ip, count, *the rest): the rest is what repeats, and is sent once per combination.
assert _NAMES[:2] == ("source_ip", "count"), _NAMES
_REST = attrgetter(*_NAMES[2:])


@dataclass(frozen=True)
class CompactRecords:
    combinations: tuple[tuple[Any, ...], ...]  # the distinct values of every field after source_ip and count
    ips: tuple[str, ...]
    counts: tuple[int, ...]
    which: tuple[int, ...]  # the index of each record's combination

    def __len__(self) -> int:
        return len(self.ips)

    def records(self) -> Iterator[Record]:
        """The records again, equal to those given, in their order."""
        combos = self.combinations
        for ip, count, index in zip(self.ips, self.counts, self.which, strict=True):
            yield Record(ip, count, *combos[index])


def compact(records: Iterable[Record], max_records: int) -> CompactRecords:
    """The records in compact form; ``TooLargeForWorker`` past ``max_records`` (the writer streams those)."""
    seen: dict[tuple[Any, ...], int] = {}
    ips: list[str] = []
    counts: list[int] = []
    which: list[int] = []
    for record in records:
        rest = _REST(record)
        index = seen.get(rest)
        if index is None:
            index = seen[rest] = len(seen)
        ips.append(record.source_ip)
        counts.append(record.count)
        which.append(index)
        if len(ips) > max_records:
            raise TooLargeForWorker(f"more than {max_records} records")
    return CompactRecords(tuple(seen), tuple(ips), tuple(counts), tuple(which))
