"""The search-engine harness starts a real node that keeps its data across restarts and crashes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch, helpers

from tests.support.search_engine import SearchEngine

INDEX = "harness-check"


@pytest.fixture()
def engine() -> Iterator[SearchEngine]:
    node = SearchEngine()
    node.start()
    try:
        yield node
    finally:
        node.close()


def _count(engine: SearchEngine) -> int:
    with Elasticsearch(engine.url) as es:
        return int(es.count(index=INDEX)["count"])


def _index_three_docs(engine: SearchEngine) -> int:
    docs = [
        {"_op_type": "create", "_index": INDEX, "_id": f"doc-{n}", "_source": {"n": n}}
        for n in range(3)
    ]
    with Elasticsearch(engine.url) as es:
        created, errors = helpers.bulk(es, docs, refresh="wait_for")
    assert errors == []
    return created


def test_data_survives_clean_restart_and_hard_kill(engine: SearchEngine) -> None:
    assert engine.engine_name == "elasticsearch"
    assert engine.version == "9.5.3"
    assert _index_three_docs(engine) == 3
    assert _count(engine) == 3

    engine.restart()
    assert _count(engine) == 3

    engine.kill()
    assert not engine.is_running()
    engine.start()
    assert _count(engine) == 3
