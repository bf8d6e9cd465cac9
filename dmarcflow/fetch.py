"""One pass over one mailbox: search the reports folder, fetch in batches, ingest, then file each message.

Order is what makes this safe: a message is moved only after ingest_bytes has committed its reports (or
kept its rejected bytes). A crash before the move leaves the message where it was; the next pass reads it
again and the store answers "duplicate", so it is filed without being counted twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from dmarcflow.config import MailboxSettings
from dmarcflow.ingest import Ingestor, InputOutcome
from dmarcflow.ingest_tasks import MessageInput, chunked, messages_jobs
from dmarcflow.mailbox import Mailbox, Message, plan_batches
from dmarcflow.store import RawInput

if TYPE_CHECKING:
    from dmarcflow.ingest import ParsingPool

log = logging.getLogger(__name__)

DELETED = ""  # destination of a message removed because delete_processed is set


@dataclass(frozen=True)
class Filed:
    """What happened to one message: its ingest outcome and where it went."""

    mailbox: str
    uid: int
    destination: str  # a folder name, or DELETED
    outcome: InputOutcome


@dataclass(frozen=True)
class PassResult:
    mailbox: str
    filed: tuple[Filed, ...]
    pending: int  # messages found in the reports folder at the start of the pass
    stopped: bool  # a stop request ended the pass before every message was handled

    @property
    def outcomes(self) -> list[InputOutcome]:
        return [f.outcome for f in self.filed]


def never() -> bool:
    return False


def input_name(box: MailboxSettings, uid: int) -> str:
    return f"imap://{box.name}/{box.folder}/{uid}"


def prepare(box: Mailbox) -> None:
    """Create the archive (every kind's) and invalid folders when missing, then select the reports folder."""
    for folder in (*box.settings.archive_folders(), box.settings.invalid_folder):
        box.ensure_folder(folder)
    box.select(box.settings.folder)


def run_pass(
    box: Mailbox,
    ingestor: Ingestor,
    should_stop: Callable[[], bool] = never,
    on_filed: Callable[[Filed], None] | None = None,
    jobs: int | None = None,
) -> PassResult:
    """Process every message now in the reports folder (or until should_stop() says so).

    ``jobs``: worker processes that parse the messages while this process stores them and files them
    away (default: the number of cores for a backlog of ``POOL_MIN_INPUTS`` messages or more, else
    none; 1: everything in this process).
    """
    prepare(box)
    uids = box.pending()
    sizes = box.sizes(uids)
    filed: list[Filed] = []

    def report(item: Filed) -> None:
        filed.append(item)
        if on_filed is not None:
            on_filed(item)

    workers = messages_jobs(jobs, len(uids), sum(sizes.values()))
    with ExitStack() as stack:
        pool = stack.enter_context(ingestor.parsing_pool(workers, ingestor.enricher.settings)) if workers > 1 else None
        stopped = False
        for batch in plan_batches(sizes, uids, box.settings.batch_size):
            if should_stop():
                stopped = True
                break
            stopped = _process_batch(box, ingestor, batch, sizes, should_stop, report, pool)
            if stopped:
                if pool is not None:
                    pool.close(force=True)  # the results it still holds are of messages left for next time
                break
    return PassResult(box.settings.name, tuple(filed), len(uids), stopped)


def _process_batch(
    box: Mailbox, ingestor: Ingestor, batch: Sequence[int], sizes: dict[int, int], should_stop: Callable[[], bool],
    report: Callable[[Filed], None], pool: ParsingPool | None = None,
) -> bool:
    """Ingest and file one batch (one FETCH); True when a stop request ended it early.

    The batch's messages share commits (``Ingestor.commit_groups``); the messages a commit holds are filed
    (one MOVE per destination) as soon as that commit is done, never before: a failed commit files none of
    its messages, which stay in the folder to be read again.
    """
    limit = ingestor.limits.max_message_bytes
    small = [uid for uid in batch if sizes.get(uid, 0) <= limit]

    def file_committed(done: list[Filed]) -> None:
        _file(box, done)
        for item in done:  # reported only once filed, so that a failed MOVE is not reported as done
            report(item)

    oversized = [_classify(box.settings, uid, _reject_oversized(ingestor, box.settings, uid, sizes[uid], limit))
                 for uid in batch if sizes.get(uid, 0) > limit]
    if oversized:
        file_committed(oversized)
    with ingestor.commit_groups(file_committed) as add:
        for uid, ingest in _ingests(ingestor, box.settings, box.fetch(small) if small else [], pool):
            if should_stop():
                return True  # the messages fetched but not ingested stay in the folder for next time
            filed = _classify(box.settings, uid, ingest())
            add(filed, filed.outcome.records)
    return False


def _ingests(ingestor: Ingestor, box: MailboxSettings, messages: Iterable[Message],
             pool: ParsingPool | None) -> Iterator[tuple[int, Callable[[], InputOutcome]]]:
    """Each message's uid, in order, with what stores it and gives its outcome: parsing it here, or taking
    what the pool's workers made of it (they parse the batch ahead, while this process stores)."""
    if pool is None:
        for message in messages:
            yield message.uid, partial(ingest_message, ingestor, box, message)
        return
    fetched = list(messages)  # one FETCH's messages, in memory already
    known = [_known_rejection(ingestor, message.raw) for message in fetched]
    unknown = [(MessageInput(input_name(box, m.uid), m.raw), len(m.raw))
               for m, seen in zip(fetched, known, strict=True) if seen is None]
    parsed = (outcome for _, outcome in ingestor.ingest_in_pool(pool, chunked(unknown)))
    for message, seen in zip(fetched, known, strict=True):
        if seen is None:
            yield message.uid, parsed.__next__
        else:
            yield message.uid, partial(_rejected_already, input_name(box, message.uid), seen)


def ingest_message(ingestor: Ingestor, box: MailboxSettings, message: Message) -> InputOutcome:
    name = input_name(box, message.uid)
    known = _known_rejection(ingestor, message.raw)
    if known is not None:
        return _rejected_already(name, known)
    # A poison message is its own rejection (internal_error) inside ingest_bytes, as for files. Store
    # failures propagate: the store is at fault, not the message, which stays where it is.
    return ingestor.ingest_bytes(name, message.raw)


def _rejected_already(name: str, known: tuple[str, str]) -> InputOutcome:
    """A message read again after a crash between commit and move: its rejection is kept already."""
    return InputOutcome(name, "rejected", known[0], known[1], 0, 0, 0)


def _known_rejection(ingestor: Ingestor, raw: bytes) -> tuple[str, str] | None:
    return ingestor.store.rejection_of(hashlib.sha256(raw).hexdigest())


def _reject_oversized(ingestor: Ingestor, box: MailboxSettings, uid: int, size: int, limit: int) -> InputOutcome:
    """Too big to download safely: recorded (with its size, without its bytes) and filed as invalid."""
    name = input_name(box, uid)
    text = f"message of {size} bytes exceeds limits.max_message_bytes ({limit}); not downloaded"
    if not ingestor.store.has_unread_rejection(name, "too_large"):
        with ingestor.store.transaction():
            ingestor.store.save_rejected(name, name, "too_large", text, RawInput.not_downloaded(size, ""))
    return InputOutcome(name, "rejected", "too_large", text, 0, 0, 0)


def _classify(box: MailboxSettings, uid: int, outcome: InputOutcome) -> Filed:
    """Archive (into the report kind's own folder, when it has one) when at least one report is in the store;
    invalid when nothing usable was found."""
    if outcome.reports > 0:
        destination = DELETED if box.delete_processed else box.archive_folder_for(outcome.kind)
    else:
        destination = box.invalid_folder
    return Filed(box.name, uid, destination, outcome)


def _file(box: Mailbox, done: list[Filed]) -> None:
    for destination in dict.fromkeys(f.destination for f in done):
        uids = [f.uid for f in done if f.destination == destination]
        if destination == DELETED:
            box.delete(uids)
        else:
            box.move(uids, destination)
    for item in done:
        _log_filed(item)


def _log_filed(item: Filed) -> None:
    o = item.outcome
    where = item.destination or "deleted"
    if o.status == "rejected" and o.reports == 0:
        log.warning("mailbox %s: uid %d -> %s: rejected (%s: %s)", item.mailbox, item.uid, where, o.reason, o.message)
    elif o.status == "rejected":
        log.warning("mailbox %s: uid %d -> %s: %d report(s) stored, some parts rejected (%s: %s)",
                    item.mailbox, item.uid, where, o.reports, o.reason, o.message)
    else:
        log.info("mailbox %s: uid %d -> %s: %s (%d report(s), %d record(s))",
                 item.mailbox, item.uid, where, o.status, o.reports, o.records)
