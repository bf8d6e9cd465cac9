"""The one retry layer: every request to the engine, and every bulk item it pushed back, goes through it.

A whole request is retried when the engine did not answer or answered 429/502/503/504 (unreachable,
overloaded or not ready yet); a bulk item is retried when it alone was answered 429. Both wait the
same exponential backoff and share the same attempts, so a chunk is never retried at two levels.
Any other refusal of a whole request is final (``IndexingError``). When the attempts run out the
caller gets ``ClusterUnavailable``: the records wait in the store, and the message says from which
record the next pass resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dmarcflow.errors import IndexingError
from dmarcflow.index.client import Action, BulkOutcome, EngineRefused, EngineUnreachable, SearchClient

T = TypeVar("T")
MAX_BACKOFF_S = 60.0
TOO_MANY_REQUESTS = 429
# Whole-request failures worth waiting out: overloaded, or not ready yet.
RETRYABLE_STATUS = (TOO_MANY_REQUESTS, 502, 503, 504)


class ClusterUnavailable(IndexingError):
    """The cluster did not answer (or answered 429/5xx) after every retry."""


@dataclass(frozen=True)
class Retrier:
    retries: int  # attempts after the first
    initial_backoff: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int) -> float:
        return min(MAX_BACKOFF_S, self.initial_backoff * 2.0 ** (attempt - 1))

    def call(self, request: Callable[[], T], resume_from: int) -> T:
        """``request()``, retried on unreachable and 429/5xx answers."""
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.delay(attempt))
            try:
                return request()
            except EngineUnreachable as exc:
                last = str(exc)
            except EngineRefused as exc:
                last = _retryable(exc)
        raise _unavailable(last, resume_from)

    def bulk(self, client: SearchClient, actions: list[Action], resume_from: int) -> list[BulkOutcome]:
        """One chunk: the whole request retried as ``call`` does, items answered 429 re-sent alone.

        Items still answered 429 when the attempts run out are returned as refused (the caller
        parks them); every other outcome is returned as the engine gave it.
        """
        done: list[BulkOutcome] = []
        todo, last = actions, ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.delay(attempt))
            try:
                outcomes = client.bulk(todo)
            except EngineUnreachable as exc:
                last = str(exc)
                continue
            except EngineRefused as exc:
                last = _retryable(exc)
                continue
            final = attempt == self.retries
            again = [a for a, (ok, item) in zip(todo, outcomes, strict=True) if not final and _pushed_back(ok, item)]
            done.extend(o for o in outcomes if final or not _pushed_back(*o))
            if not again:
                return done
            todo, last = again, f"{client.url} answered 429 to {len(again)} document(s)"
        raise _unavailable(last, resume_from)


def _pushed_back(ok: bool, item: dict[str, Any]) -> bool:
    return not ok and item.get("create", item).get("status") == TOO_MANY_REQUESTS


def _retryable(exc: EngineRefused) -> str:
    """The message to keep for a retry, or the final error for a refusal no retry can change."""
    if exc.status not in RETRYABLE_STATUS:
        raise IndexingError(f"request refused by {exc.url}: {exc.description}") from None
    return f"{exc.url} answered {exc.description}"


def _unavailable(last: str, resume_from: int) -> ClusterUnavailable:
    return ClusterUnavailable(f"{last}; records wait in the store and the next sync resumes from record {resume_from}")
