"""What a worker process of ``ingest --jobs`` does with its inputs (files, mbox messages): read, extract and
parse them, no store. A task is a batch of inputs (``ingest_tasks.batches``), each with a result of its own.

The result holds every outcome parsing can decide (a rejected or skipped part, with its reason and
message) and each report parsed in its kind's compact form (``ReportKind.parse``); the writer then
stores the reports (``ReportKind.save``) and keeps the bytes of a rejected input, exactly as
``Ingestor.ingest_file`` does in one process. The input's budget (``InputBudget``) lives here, in the
worker, for the whole walk of the input.

With offline enrichment, each worker also looks up the facts of the reports' source IPs in the local
database (``Enricher.facts``: country, AS, sending service), so the writer only stores them: the
writer still decides which IPs need facts (those the store marks), and looks up any it was not sent.

Some inputs are better ingested by the writer itself, streaming (``WriterTakesIt``): a report too
large to send between processes (``TooLargeForWorker``), and an mbox file the writer did not split
into its messages (``ingest_tasks`` looks at a file's first 4 KiB only).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from dmarcflow.budget import InputBudget
from dmarcflow.config import EnrichmentSettings
from dmarcflow.enrich import Enricher
from dmarcflow.errors import InputError, NotAReport, TooLargeForWorker
from dmarcflow.extract import Rejection, Skipped, internal_error, kind_of, walk
from dmarcflow.ingest_tasks import FileInput, MessageInput, Task, TaskInput, read_error
from dmarcflow.inputs import BytesSource, Source, open_file
from dmarcflow.kinds.base import KindSettings, Parsed, Payload
from dmarcflow.kinds.registry import kind_named
from dmarcflow.models import IpFacts

if TYPE_CHECKING:
    from dmarcflow.worker_pool import WorkerFailed

_SENT_FACTS_MAX = 200_000
_FACT_VALUES = attrgetter(*(f.name for f in fields(IpFacts)))  # IpFacts -> a tuple, in field order

__all__ = ["Decided", "InputParser", "ParsedInput", "ParsedPayload", "TaskResult", "Unopened", "WorkerResult",
           "WorkerSettings", "WorkerState", "WriterTakesIt", "parse_input", "parse_message", "parse_task", "read_error",
           "start_task_worker"]


@dataclass(frozen=True)
class WorkerSettings:
    kinds: KindSettings
    enrichment: EnrichmentSettings | None = None  # offline: workers look up IP facts too; None: the writer does


class WorkerState:
    """What one worker process keeps for all its inputs."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings.kinds
        offline = settings.enrichment is not None and settings.enrichment.offline
        self.enricher = Enricher(settings.enrichment) if offline and settings.enrichment else None
        # IPs whose facts this worker sent already: once their report is committed the store has them, so
        # they are not sent again (the writer looks up any it still needs). Emptied when full.
        self.sent_facts: set[str] = set()

    def facts_for(self, ips: set[str]) -> tuple[tuple[Any, ...], ...]:
        if self.enricher is None:
            return ()
        new = sorted(ips - self.sent_facts)
        if len(self.sent_facts) + len(new) > _SENT_FACTS_MAX:
            self.sent_facts.clear()
        self.sent_facts.update(new)
        return tuple(_FACT_VALUES(f) for f in self.enricher.facts_many(new))


@dataclass(frozen=True)
class Decided:
    """A part whose outcome parsing decided: rejected or skipped (an ``ingest.PayloadOutcome`` to be)."""

    name: str
    status: str  # rejected | skipped
    reason: str
    message: str
    kind: str | None = None


@dataclass(frozen=True)
class ParsedPayload:
    """A report parsed, for its kind's ``save``."""

    name: str
    parsed: Parsed


@dataclass(frozen=True)
class ParsedInput:
    items: tuple[Decided | ParsedPayload, ...]
    facts: tuple[tuple[Any, ...], ...] = ()  # IpFacts of the reports' source IPs, as tuples (cheaper to pickle)


@dataclass(frozen=True)
class Unopened:
    """The file could not be opened or read at all: rejected as a whole, with no bytes to keep."""

    reason: str
    message: str


@dataclass(frozen=True)
class WriterTakesIt:
    why: str  # "mbox" | "too large"


WorkerResult = ParsedInput | Unopened | WriterTakesIt


def parse_input(state: WorkerState, path: str) -> WorkerResult:
    """The worker's function for one input file, as far as it goes without the store."""
    return _with_facts(state, _parse_file(state.settings, path))


def parse_message(state: WorkerState, name: str, data: bytes) -> WorkerResult:
    """One message of an mbox file, as ``Ingestor.ingest_bytes`` reads it."""
    return _with_facts(state, _walked(state.settings, name, BytesSource(data)))


InputParser = Callable[[WorkerState, str], WorkerResult]
TaskResult = tuple["WorkerResult | WorkerFailed | None", ...]


def start_task_worker(arg: tuple[InputParser, WorkerSettings]) -> tuple[InputParser, WorkerState]:
    """A worker's state for ``parse_task``: the function for one file (``parse_input``, or a test's) and its state."""
    parse, settings = arg
    return parse, WorkerState(settings)


def parse_task(worker: tuple[InputParser, WorkerState], task: Task) -> TaskResult:
    """The worker's function: each input of a batch (``ingest_tasks.batches``), its result in its place.

    An exception on one input is that input's failure only; the batch goes on (a worker that dies fails them all).
    """
    parse, state = worker
    return tuple(_one(parse, state, item) for item in task)


def _one(parse: InputParser, state: WorkerState, item: TaskInput) -> WorkerResult | WorkerFailed | None:
    try:
        if isinstance(item, FileInput):
            return parse(state, item.path)
        if isinstance(item, MessageInput):
            return parse_message(state, item.name, item.data)
        return None  # rejected by the mbox reader already
    except Exception as exc:  # noqa: BLE001 - the input's failure, reported to the writer
        from dmarcflow.worker_pool import WorkerFailed  # here: the one-job path does not import multiprocessing

        return WorkerFailed(f"{type(exc).__name__}: {str(exc)[:200]}")


def _with_facts(state: WorkerState, result: WorkerResult) -> WorkerResult:
    if state.enricher is None or not isinstance(result, ParsedInput):
        return result
    ips = {ip for i in result.items if isinstance(i, ParsedPayload) for ip in i.parsed.source_ips()}
    return ParsedInput(result.items, state.facts_for(ips))


def _parse_file(settings: KindSettings, path: str) -> WorkerResult:
    try:
        source = open_file(path)
    except InputError as exc:
        return Unopened(exc.reason, exc.message)
    with source:
        try:
            if kind_of(source) == "mbox":
                return WriterTakesIt("mbox")
        except Exception as exc:  # noqa: BLE001 - e.g. an I/O error: the input's outcome
            error = read_error(exc, path)
            return Unopened(error.reason, error.message)
        return _walked(settings, path, source)


def _walked(settings: KindSettings, name: str, source: Source) -> WorkerResult:
    items: list[Decided | ParsedPayload] = []
    try:
        with closing(walk(name, source, InputBudget(settings.limits, source.size))) as walked:
            for item in walked:
                items.append(_item(item, settings))
    except TooLargeForWorker as exc:
        return WriterTakesIt(f"too large: {exc}")
    except InputError as exc:
        items.append(Decided(name, "rejected", exc.reason, exc.message))
    except Exception as exc:  # noqa: BLE001 - one poison input must not end the run
        error = internal_error(exc, name)
        items.append(Decided(name, "rejected", error.reason, error.message))
    return ParsedInput(tuple(items))


def _item(item: Payload | Rejection | Skipped, settings: KindSettings) -> Decided | ParsedPayload:
    if isinstance(item, Rejection):
        return Decided(item.name, "rejected", item.error.reason, item.error.message)
    if isinstance(item, Skipped):
        return Decided(item.name, "skipped", item.reason, item.message)
    try:
        return ParsedPayload(item.name, kind_named(item.kind).parse(item, settings))
    except NotAReport as exc:
        return Decided(item.name, "skipped", exc.reason, exc.message)
    except InputError as exc:
        return Decided(item.name, "rejected", exc.reason, exc.message, item.kind)
    except TooLargeForWorker:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug on one report must not lose the others
        error = internal_error(exc, item.name)
        return Decided(item.name, "rejected", error.reason, error.message, item.kind)

