"""The one retry layer: whole requests and pushed-back bulk items share one backoff and one budget.

A real node cannot be made to answer 429 to single items (or 503 to a whole bulk) on demand, so
these tests script the engine's answers with a stand-in that has only the bulk call; everything
else (the retry layer, the sync pass, the store) is real. Unreachable engines are tested against
real closed ports in test_sync.py, and outages against the real nodes there.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import outbox
from dmarcflow.index.client import Action, BulkOutcome, EngineRefused, EngineUnreachable
from dmarcflow.index.document import document_id
from dmarcflow.index.retry import ClusterUnavailable, Retrier
from dmarcflow.index.sync import Syncer, target_of

URL = "http://127.0.0.1:9"


def _item(action: Action, status: int) -> BulkOutcome:
    return (200 <= status < 300, {"create": {"_id": action["_id"], "status": status,
                                             **({"error": {"reason": f"status {status}"}} if status >= 300 else {})}})


class ScriptedEngine:
    """Answers each bulk call with the next scripted step: an exception, or a status per action id."""

    engine = "elasticsearch"
    url = URL

    def __init__(self, steps: list[Exception | Callable[[Action], int]]) -> None:
        self.steps, self.calls = steps, []

    def bulk(self, actions: list[Action]) -> list[BulkOutcome]:
        self.calls.append([a["_id"] for a in actions])
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return [_item(a, step(a)) for a in actions]

    def has_index_template(self, name: str) -> bool:
        return True


ACTIONS = [{"_op_type": "create", "_index": "x", "_id": name, "_source": {}} for name in ("a", "b", "c")]


def _statuses(outcomes: list[BulkOutcome]) -> dict[str, int]:
    return {item["create"]["_id"]: item["create"]["status"] for _, item in outcomes}


def test_items_pushed_back_are_resent_alone_with_backoff() -> None:
    sleeps: list[float] = []
    engine = ScriptedEngine([lambda a: {"a": 201, "b": 429, "c": 409}[a["_id"]], lambda a: 201])
    outcomes = Retrier(3, 0.5, sleeps.append).bulk(engine, ACTIONS, resume_from=1)
    assert _statuses(outcomes) == {"a": 201, "b": 201, "c": 409}
    assert (engine.calls, sleeps) == ([["a", "b", "c"], ["b"]], [0.5])


def test_items_still_pushed_back_after_the_last_attempt_come_back_refused() -> None:
    sleeps: list[float] = []
    engine = ScriptedEngine([lambda a: 429 if a["_id"] == "b" else 201] * 3)
    outcomes = Retrier(2, 0.5, sleeps.append).bulk(engine, ACTIONS, resume_from=1)
    assert _statuses(outcomes) == {"a": 201, "b": 429, "c": 201}
    assert (engine.calls, sleeps) == ([["a", "b", "c"], ["b"], ["b"]], [0.5, 1.0])


def test_whole_request_failures_share_the_same_attempts() -> None:
    sleeps: list[float] = []
    engine = ScriptedEngine([EngineRefused(URL, 503, "HTTP 503 unavailable: shards", "503"),
                             lambda a: 429 if a["_id"] == "c" else 201,
                             EngineUnreachable(URL, "ConnectionError")])
    with pytest.raises(ClusterUnavailable) as info:
        Retrier(2, 1.0, sleeps.append).bulk(engine, ACTIONS, resume_from=7)
    assert str(info.value) == (f"{URL} unreachable (ConnectionError); records wait in the store and the next sync "
                               "resumes from record 7")
    assert (engine.calls, sleeps) == ([["a", "b", "c"], ["a", "b", "c"], ["c"]], [1.0, 2.0])


def test_a_refusal_no_retry_can_change_is_final_at_once() -> None:
    sleeps: list[float] = []
    engine = ScriptedEngine([EngineRefused(URL, 400, "HTTP 400 parse_exception: bad body", "400")])
    with pytest.raises(IndexingError) as info:
        Retrier(5, 1.0, sleeps.append).bulk(engine, ACTIONS, resume_from=1)
    assert str(info.value) == f"request refused by {URL}: HTTP 400 parse_exception: bad body"
    assert (len(engine.calls), sleeps) == (1, [])


def test_the_sync_parks_documents_the_engine_kept_pushing_back(seeded_store) -> None:
    settings = ElasticsearchSettings(url=URL, index_prefix="scripted", batch_size=1000, max_retries=1)
    busy = document_id(outbox.rows_by_id(seeded_store, [1])[0])
    engine = ScriptedEngine([lambda a: 429 if a["_id"] == busy else 201] * 2)
    result = Syncer(engine, seeded_store, settings, initial_backoff=0.01, sleep=lambda s: None).run_once()
    assert (result.created, [(f.record_id, f.status) for f in result.failures]) == (623, [(1, 429)])
    assert (result.checkpoint, result.pending, result.parked, result.error) == (624, 0, 1, None)
    assert [(f.status, f.attempts) for f in outbox.failures(seeded_store, target_of(settings))] == [(429, 1)]
    assert [len(call) for call in engine.calls] == [624, 1]
