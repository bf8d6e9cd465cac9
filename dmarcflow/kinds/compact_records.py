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
from functools import cached_property
from operator import attrgetter
from typing import Any

from dmarcflow.errors import TooLargeForWorker
from dmarcflow.models import Alignment, DkimResult, OverrideReason, Record, SpfResult

_NAMES = tuple(f.name for f in fields(Record))
# A record is (source_ip, count, *the rest): the rest is what repeats, and is sent once per combination.
assert _NAMES[:2] == ("source_ip", "count"), _NAMES
_REST = attrgetter(*_NAMES[2:])
# Where a combination holds dataclasses: they travel as tuples of their fields. Unpickling a frozen slotted
# dataclass costs ~11 us (``dataclasses._dataclass_setstate`` looks up its fields each time), building it
# from its fields ~1 us, and a year's small reports send ~40 of them a report: a third of the writer's CPU.
_MANY = ((_NAMES.index("reasons") - 2, OverrideReason), (_NAMES.index("dkim") - 2, DkimResult),
         (_NAMES.index("spf") - 2, SpfResult))
_ONE = _NAMES.index("alignment") - 2
_ALIGNMENT = attrgetter(*(f.name for f in fields(Alignment)))


@dataclass(frozen=True)
class CompactRecords:
    # the distinct values of every field after source_ip and count, each combination's dataclasses as tuples of
    # their fields: plain tuples, so that they pickle cheaply and hash in C (the writer's cache key, see ``flat``)
    flat: tuple[tuple[Any, ...], ...]
    ips: tuple[str, ...]
    counts: tuple[int, ...]
    which: tuple[int, ...]  # the index of each record's combination

    def __len__(self) -> int:
        return len(self.ips)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return CompactRecords, (self.flat, self.ips, self.counts, self.which)

    @cached_property
    def combinations(self) -> tuple[tuple[Any, ...], ...]:
        """The combinations with their dataclasses, built on first use: the writer builds only those it has not
        stored before (``combination``), a report's few new ones."""
        return tuple(_whole(c) for c in self.flat)

    def combination(self, index: int) -> tuple[Any, ...]:
        """One combination with its dataclasses (built again each time: see ``combinations``)."""
        found = self.__dict__.get("combinations")
        return found[index] if found is not None else _whole(self.flat[index])

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
    packed = CompactRecords(tuple(_flat(c) for c in seen), tuple(ips), tuple(counts), tuple(which))
    packed.__dict__["combinations"] = tuple(seen)  # the cached property, known already
    return packed


def _fields(item: Any) -> tuple[Any, ...]:
    return tuple(getattr(item, name) for name in item.__slots__)


def _flat(combination: tuple[Any, ...]) -> tuple[Any, ...]:
    flat = list(combination)
    for index, _ in _MANY:
        flat[index] = tuple(_fields(item) for item in combination[index])
    flat[_ONE] = _ALIGNMENT(combination[_ONE])
    return tuple(flat)


def _whole(combination: tuple[Any, ...]) -> tuple[Any, ...]:
    """A combination with its dataclasses built again from their fields (``_flat`` undone)."""
    whole = list(combination)
    for index, kind in _MANY:
        whole[index] = tuple(kind(*values) for values in combination[index])
    whole[_ONE] = Alignment(*combination[_ONE])
    return tuple(whole)
