"""Elasticsearch bulk indexing into one local node: dmarcflow's sync vs parsedmarc's per-record saves.

dmarcflow: ``Syncer.run_once`` over a store (reads the outbox, builds ECS documents,
``streaming_bulk`` with ``op_type: create``). parsedmarc:
``save_aggregate_report_to_elasticsearch`` on the same report, parsed beforehand
(not timed): one search for duplicates, then an index-exists check and one index
request per record. The node is the test suite's (tests/support/search_engine.py).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import best_of, run_stage
from benchmarks.run import Run, log

TARGET_RATE = Target(">=", 20_000)
TARGET_RATIO = Target(">=", 50, on_ratio=True)


def _after_enrichment_grace() -> datetime:
    # Offline ingest leaves reverse DNS unchecked, and the sync holds such records back
    # for a grace period waiting for enrichment; the benchmark runs as if it had passed.
    from dmarcflow.index.outbox import ENRICHMENT_GRACE

    return datetime.now(timezone.utc) + 2 * ENRICHMENT_GRACE


def child_dmarcflow(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.config import ElasticsearchSettings
    from dmarcflow.index.elastic import Syncer, make_client, setup
    from dmarcflow.store.sqlite import Store

    settings = ElasticsearchSettings(url=params["url"], index_prefix=params["prefix"], replicas=0,
                                     timeout=120.0)
    client = make_client(settings)
    setup(client, settings)
    store = Store.open(params["db"])
    started = time.perf_counter()
    result = Syncer(client, store, settings, now=_after_enrichment_grace).run_once()
    seconds = time.perf_counter() - started
    if not result.complete or result.created != params["records"]:
        raise RuntimeError(f"sync incomplete: created {result.created} of {params['records']}, "
                           f"pending {result.pending}, parked {result.parked}, error {result.error}")
    return {"docs": result.created, "seconds": seconds, "batch_size": settings.batch_size}


def child_breakdown(params: dict[str, Any]) -> dict[str, Any]:
    """Where sync time goes: read rows, build documents, serialise, and the node alone."""
    from dmarcflow.config import ElasticsearchSettings
    from dmarcflow.index import mapping, outbox
    from dmarcflow.index.document import document_id, to_document
    from dmarcflow.index.elastic import make_client, setup
    from dmarcflow.store.sqlite import Store

    settings = ElasticsearchSettings(url=params["url"], index_prefix=params["prefix"], replicas=0, timeout=120.0)
    client = make_client(settings)
    setup(client, settings)
    store = Store.open(params["db"])
    t0 = time.perf_counter()
    rows = outbox.pending(store, "breakdown", 0, params["records"], _after_enrichment_grace())
    t1 = time.perf_counter()
    docs = [(document_id(r), mapping.index_name(settings.index_prefix, settings.index_period, r.report.begin_ts),
             to_document(r)) for r in rows]
    t2 = time.perf_counter()
    bodies = [_ndjson(docs[i:i + settings.batch_size]) for i in range(0, len(docs), settings.batch_size)]
    t3 = time.perf_counter()
    for body in bodies:
        answer = client.bulk(body=body)
        if answer["errors"]:
            raise RuntimeError("bulk refused documents")
    t4 = time.perf_counter()
    return {"docs": len(docs), "read_seconds": t1 - t0, "build_seconds": t2 - t1,
            "serialise_seconds": t3 - t2, "node_seconds": t4 - t3}


def _dumps() -> Any:
    # The same serialiser the sync's client picks: orjson when installed.
    try:
        import orjson

        return orjson.dumps
    except ImportError:
        import json

        return lambda value: json.dumps(value).encode()


def _ndjson(chunk: list[tuple[str, str, dict]]) -> bytes:
    dumps, lines = _dumps(), []
    for doc_id, index, doc in chunk:
        lines.append(dumps({"create": {"_index": index, "_id": doc_id}}))
        lines.append(dumps(doc))
    return b"\n".join(lines) + b"\n"


def child_parsedmarc(params: dict[str, Any]) -> dict[str, Any]:
    import parsedmarc
    from parsedmarc import elastic

    report = parsedmarc.parse_report_file(params["path"], offline=True)["report"]
    elastic.set_hosts(params["url"], timeout=120.0)
    started = time.perf_counter()
    elastic.save_aggregate_report_to_elasticsearch(report, index_prefix=params["prefix"])
    seconds = time.perf_counter() - started
    return {"docs": len(report["records"]), "seconds": seconds}


def _store_for(run: Run, n_records: int, name: str) -> str:
    db = run.workdir / name
    db.unlink(missing_ok=True)
    run_stage("ingest", {"db": str(db), "paths": [str(run.report(n_records))]})
    return str(db)


def _compare(run: Run, url: str, same_db: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both tools index the same report, interleaved, repeat times each, into fresh indices."""
    n, path = run.sizes.es_compare_records, str(run.report(run.sizes.es_compare_records))
    ours, theirs = [], []
    for i in range(run.repeat):
        ours.append(run_stage("es-dmarcflow", {"db": same_db, "url": url, "prefix": f"bench-same-{i}",
                                               "records": n})[0])
        log(f"parsedmarc: saving {n:,} records one by one")
        theirs.append(run_stage("es-parsedmarc", {"path": path, "url": url, "prefix": f"parsedmarc-{i}-"})[0])
    return best_of(ours), best_of(theirs)


def measure(run: Run) -> list[Figure]:
    from tests.support.search_engine import SearchEngine

    sizes = run.sizes
    big_db = _store_for(run, sizes.es_records, "es-big.db")
    same_db = _store_for(run, sizes.es_compare_records, "es-same.db")
    log("starting the local search-engine node")
    with SearchEngine() as engine:
        url = engine.url
        # A fresh JVM indexes slowly until its JIT has warmed up: the first sync is not measured.
        warmup, _ = run_stage("es-dmarcflow", {"db": same_db, "url": url, "prefix": "bench-warmup",
                                               "records": sizes.es_compare_records})
        big, _ = run_stage("es-dmarcflow", {"db": big_db, "url": url, "prefix": "bench-big",
                                            "records": sizes.es_records})
        split, _ = run_stage("es-breakdown", {"db": big_db, "url": url, "prefix": "bench-split",
                                              "records": sizes.es_records})
        ours, theirs = _compare(run, url, same_db)
        node = f"{engine.engine_name} {engine.version}"
    run.record("es", {"node": node, "warmup": warmup, "big": big, "breakdown": split, "same": ours, "parsedmarc": theirs})
    ours_rate, theirs_rate = ours["docs"] / ours["seconds"], theirs["docs"] / theirs["seconds"]
    n = split["docs"]
    return [
        Figure("es_docs_per_s", f"bulk indexing, one local node ({big['docs']:,} docs)", "docs/s",
               big["docs"] / big["seconds"], target=TARGET_RATE, note=f"{node}, 512 MB heap, same machine"),
        Figure("es_docs_per_s_vs_parsedmarc", f"indexing the same {ours['docs']:,}-record report", "docs/s",
               ours_rate, theirs_rate, ours_rate / theirs_rate, TARGET_RATIO,
               note=f"best of {run.repeat} interleaved runs each; parsedmarc: "
                    "save_aggregate_report_to_elasticsearch (one request per record)"),
        Figure("es_node_docs_per_s", f"the node alone: bulk of pre-built documents ({n:,} docs)", "docs/s",
               n / split["node_seconds"], note="the ceiling this node sets on this machine"),
        Figure("es_build_docs_per_s", f"dmarcflow side alone: read + build + serialise ({n:,} docs)", "docs/s",
               n / (split["read_seconds"] + split["build_seconds"] + split["serialise_seconds"]),
               note=f"build {split['build_seconds'] / n * 1e6:.0f} us/doc, "
                    f"serialise {split['serialise_seconds'] / n * 1e6:.0f} us/doc"),
    ]
