"""The inputs of ``ingest``, as the writer's process reads them: files, and the messages of each mbox file.

Shared by the one-process path and ``ingest --jobs``, so that both give an mbox the same outcomes:
each message is an input of its own (``path:N``); a message over ``limits.max_message_bytes`` is
rejected unread (its size kept, not its bytes); an mbox that cannot be read on ends with one
rejection (``path:N+1``); one without any message is rejected as ``empty`` with its bytes kept.

With ``--jobs``, inputs travel to the workers in batches (``batches``): a small report costs a worker
about a millisecond, and one round trip between processes (pickling, a pipe write each way, waking
both sides) cost about as much again when every input was a task of its own. A batch ends at
``BATCH_INPUTS`` inputs or ``BATCH_BYTES`` bytes, so a large file travels alone. An mbox file is
split here, in the writer's process, by the one mbox reader (``split_mbox``, streaming), and its
messages travel in batches like files; only the writer reads the mbox, so its order is kept.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dmarcflow.errors import ExtractError, InputError
from dmarcflow.extract import internal_error, kind_of, too_large_message
from dmarcflow.inputs import Source, open_file
from dmarcflow.mbox import split_mbox
from dmarcflow.store import RawInput

__all__ = ["BATCH_BYTES", "BATCH_INPUTS", "MAX_JOBS", "FileInput", "MessageInput", "Task", "TaskInput", "Unread",
           "batches", "chunked", "jobs_for", "mbox_inputs", "messages_jobs", "read_error"]

BATCH_INPUTS = 32  # a year's small report is ~1 ms of a worker's work: a batch ~tens of ms
BATCH_BYTES = 1 << 20
MAX_JOBS = 64  # ``ingest --jobs``: more processes than this only add memory (one writer stores them all)
# Workers cost ~0.25 CPU s to start (a fork server that imports the parsers, then the workers) and the
# first results come ~0.5 s after the start (measured on 2 cores): by default, a run with fewer inputs
# and fewer bytes than this stays in one process, where ~0.5 s is a few hundred small reports.
POOL_MIN_INPUTS = 400
POOL_MIN_BYTES = 8 << 20
_SNIFF = 4096  # bytes read to tell a file that may be an mbox (confirmed by ``kind_of``)
_LEAD = b"\xef\xbb\xbf \t\r\n"  # what ``extract.detect`` skips before the first bytes it reads


@dataclass(frozen=True)
class FileInput:
    path: str


@dataclass(frozen=True)
class MessageInput:
    """One message of an mbox file: its bytes are the input (and what a rejection keeps)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Unread:
    """An input the mbox reader rejected unread (an over-large message, the rest of a broken mbox, an empty one)."""

    name: str
    reason: str
    message: str
    raw: RawInput | None


TaskInput = FileInput | MessageInput | Unread
Task = tuple[TaskInput, ...]


def read_error(exc: BaseException, name: str) -> InputError:
    """What an exception met while reading a file means for the input."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, OSError):
        return ExtractError("unreadable", f"cannot read the file: {exc.strerror or exc}")
    return internal_error(exc, name)


def mbox_inputs(path: str, source: Source, cap: int) -> Iterator[MessageInput | Unread]:
    """Each message of the mbox file ``path`` as an input, in order (see the module's docstring)."""
    index = 0
    try:
        with source.open() as stream:
            for message in split_mbox(stream, cap):
                index = message.index
                name = f"{path}:{index}"
                if message.data is None:
                    large = too_large_message(message.size, cap)
                    not_kept = RawInput.not_downloaded(message.size, f"its {message.size} bytes were not kept: "
                                                       "larger than limits.max_message_bytes")
                    yield Unread(name, large.reason, large.message, not_kept)
                else:
                    yield MessageInput(name, message.data)
    except Exception as exc:  # noqa: BLE001 - the mbox itself could not be read on: its last outcome
        error = read_error(exc, path)
        yield Unread(f"{path}:{index + 1}", error.reason, error.message, None)
        return
    if index == 0:
        yield Unread(path, "empty", "the mbox file holds no message", source.raw())


def jobs_for(asked: int | None, paths: Sequence[str]) -> int:
    """Worker processes for these input files: as asked (default: the cores, or none for a run too small
    to pay for them), never more than the tasks they make; 1 means none (everything in this process)."""
    looks = [_look(p) for p in paths] if len(paths) < POOL_MIN_INPUTS else []
    if asked is None:
        if looks and sum(size for size, _ in looks) < POOL_MIN_BYTES:
            return 1
        asked = len(os.sched_getaffinity(0))
    # an mbox makes a task per batch of its messages, as many as it holds; any other file one task at most
    tasks = sum(MAX_JOBS if mbox else 1 for _, mbox in looks) if looks else len(paths)
    return max(1, min(asked, tasks, MAX_JOBS))


def batches(paths: Iterable[str], cap: int, *, inputs: int = BATCH_INPUTS,
            size: int = BATCH_BYTES) -> Iterator[Task]:
    """The inputs of these files in batches, in order: files as they are, each mbox file as its messages."""
    return chunked(_inputs_of(paths, cap), inputs=inputs, size=size)


def chunked(items: Iterable[tuple[TaskInput, int]], *, inputs: int = BATCH_INPUTS,
            size: int = BATCH_BYTES) -> Iterator[Task]:
    """(input, its size) pairs as tasks of at most ``inputs`` inputs and ``size`` bytes (one larger input alone)."""
    batch: list[TaskInput] = []
    held = 0
    for item, weight in items:
        if batch and (len(batch) >= inputs or held + weight > size):
            yield tuple(batch)
            batch, held = [], 0
        batch.append(item)
        held += weight
    if batch:
        yield tuple(batch)


def _inputs_of(paths: Iterable[str], cap: int) -> Iterator[tuple[TaskInput, int]]:
    for path in paths:
        size_of, mbox = _look(path)
        items: Iterable[TaskInput] = _mbox_of(path, cap) if mbox else (FileInput(path),)
        for item in items:
            yield item, len(item.data) if isinstance(item, MessageInput) else size_of if isinstance(item, FileInput) else 0


def messages_jobs(asked: int | None, count: int, size: int) -> int:
    """Worker processes for ``count`` messages of ``size`` bytes in all (an IMAP pass): as ``jobs_for``."""
    if asked is None:
        if count < POOL_MIN_INPUTS and size < POOL_MIN_BYTES:
            return 1
        asked = len(os.sched_getaffinity(0))
    return max(1, min(asked, -(-count // BATCH_INPUTS), MAX_JOBS))


def _look(path: str) -> tuple[int, bool]:
    """(size, whether it may be an mbox) of a file, cheaply: a file that cannot be read, or turns out to be
    an mbox after more than ``_SNIFF`` bytes of blank lines, is a worker's to find out (it gives it back)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return 0, False
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
        try:
            head = os.read(fd, _SNIFF)
        finally:
            os.close(fd)
    except OSError:
        return 0, False
    return info.st_size, head.lstrip(_LEAD).startswith(b"From ")


def _mbox_of(path: str, cap: int) -> Iterator[TaskInput]:
    """The messages of what looked like an mbox; the file whole when a closer look says otherwise."""
    try:
        source = open_file(path)
    except ExtractError:
        yield FileInput(path)
        return
    with source:
        try:
            is_mbox = kind_of(source) == "mbox"
        except Exception:  # noqa: BLE001 - a worker reads it again and says what is wrong with it
            is_mbox = False
        if not is_mbox:
            yield FileInput(path)
            return
        yield from mbox_inputs(path, source, cap)
