"""Elasticsearch bulk indexing into one local node: dmarcflow's sync vs the node alone, and vs parsedmarc.

dmarcflow: ``Syncer.run_once`` over a store (reads the outbox, builds ECS documents, sends bulk bodies
with ``op_type: create``, the answer cut to each item's id, status and error), with the JSON library the
client gets: orjson when it is installed, the standard library's json when it is not (a sync with orjson
hidden from the process is measured too, so both figures come from one run). The node alone: the same
documents pre-built into bulk bodies before the clock starts, sent straight to the node with the answer
cut the same way: the ceiling this node sets on this machine. The syncs and the node-alone run are
interleaved, ``--repeat`` times, each into fresh indices (deleted after), and the best of each counts.
parsedmarc: ``save_aggregate_report_to_elasticsearch`` on the same report, parsed beforehand (not
timed): one search for duplicates, then an index-exists check and one index request per record. The
node is the test suite's (tests/support/search_engine.py)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import best_of, run_stage
from benchmarks.run import Run, log
from dmarcflow.index.sync import CONCURRENCY as SYNC_CONCURRENCY

TARGET_RATE = Target(">=", 20_000, issue="earlier")
TARGET_RATIO = Target(">=", 50, on_ratio=True, issue="earlier")
TARGET_CEILING = Target(">=", 0.8, on_ratio=True, percent=True)
PEER_NODE = ("the node alone: pre-built bulk bodies of the same documents, same run, the faster of one request at "
             "a time and as many in flight as the sync sends")


def _after_enrichment_grace() -> datetime:
    # Offline ingest leaves reverse DNS unchecked, and the sync holds such records back
    # for a grace period waiting for enrichment; the benchmark runs as if it had passed.
    from dmarcflow.index.outbox import ENRICHMENT_GRACE

    return datetime.now(timezone.utc) + 2 * ENRICHMENT_GRACE


def child_dmarcflow(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("hide_orjson"):
        sys.modules["orjson"] = None  # type: ignore[assignment]  # import orjson now fails: the client uses json
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
    serializer = type(client.transport.serializers.get_serializer("application/json")).__name__
    return {"docs": result.created, "seconds": seconds, "batch_size": settings.batch_size, "serializer": serializer}


def child_breakdown(params: dict[str, Any]) -> dict[str, Any]:
    """Where sync time goes: read rows, build documents, serialise, and the node alone.

    The node alone takes the pre-built bodies twice, into indices of their own: one request at a time,
    and with as many in flight as the sync sends (``Syncer``'s default concurrency); the faster is the
    ceiling, so that the sync is never compared with a peer that waited more than it did.
    """
    from dmarcflow.index import outbox
    from dmarcflow.store.sqlite import Store

    store = Store.open(params["db"])
    t0 = time.perf_counter()
    rows = outbox.pending(store, "breakdown", 0, params["records"], _after_enrichment_grace())
    t1 = time.perf_counter()
    ways = [(params["prefix"], 1), (params["prefix"] + "c", SYNC_CONCURRENCY)]  # "c": no index pattern overlap
    if params.get("concurrent_first"):  # the runs alternate which goes first: the second meets a warmer node
        ways.reverse()
    passes = {n: _node_pass(params["url"], prefix, rows, n) for prefix, n in ways}
    (sequential, built, serialised), (concurrent, _, _) = passes[1], passes[SYNC_CONCURRENCY]
    return {"docs": len(rows), "read_seconds": t1 - t0, "build_seconds": built, "serialise_seconds": serialised,
            "node_seconds": min(sequential, concurrent), "node_sequential_seconds": sequential,
            "node_concurrent_seconds": concurrent, "node_concurrency": SYNC_CONCURRENCY,
            "serializer": "orjson" if _dumps().__module__ == "orjson" else "json"}


def _node_pass(url: str, prefix: str, rows: list[Any], concurrency: int) -> tuple[float, float, float]:
    """(seconds the node took for the bodies, seconds to build the documents, seconds to serialise them)."""
    from concurrent.futures import ThreadPoolExecutor

    from dmarcflow.config import ElasticsearchSettings
    from dmarcflow.index import mapping
    from dmarcflow.index.document import DocumentBuilder
    from dmarcflow.index.elastic import make_client, setup
    from dmarcflow.index.engines.calls import BULK_FILTER

    settings = ElasticsearchSettings(url=url, index_prefix=prefix, replicas=0, timeout=120.0)
    client = make_client(settings)
    setup(client, settings)
    t0 = time.perf_counter()
    builder = DocumentBuilder()  # one per pass, as the sync makes it: shared report, IP and verdict parts
    docs = [(builder.document_id(r), mapping.index_name(settings.index_prefix, settings.index_period, r.report.begin_ts),
             builder.document(r)) for r in rows]
    t1 = time.perf_counter()
    bodies = [_ndjson(docs[i:i + settings.batch_size]) for i in range(0, len(docs), settings.batch_size)]
    t2 = time.perf_counter()

    def send(body: bytes) -> None:
        # the answer cut as the sync cuts it: the node then builds, and the client parses, only what it reads
        answer = client.bulk(body=body, filter_path=BULK_FILTER)
        if any(item["create"]["status"] != 201 for item in answer["items"]):
            raise RuntimeError("bulk refused documents")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - t2, t1 - t0, t2 - t1


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


def _orjson_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("orjson") is not None


def _declared_by_dmarcflow(dist: str) -> bool:
    """Whether dmarcflow's own dependencies (not an extra) install dist."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        wanted = requires("dmarcflow") or []
    except PackageNotFoundError:
        return False
    return any(r.split(";")[0].strip().lower().startswith(dist) and "extra ==" not in r for r in wanted)


def _drop_indices(url: str, prefix: str) -> None:
    """Each measured run starts on a node without the previous runs' documents."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(url, request_timeout=120)
    names = list(client.indices.get(index=f"{prefix}*", expand_wildcards="all"))
    if names:
        client.indices.delete(index=",".join(names))


def _against_ceiling(run: Run, url: str, db: str, n: int) -> dict[str, list[dict[str, Any]]]:
    """Syncs (orjson as installed, and with orjson hidden when it is) and the node alone, interleaved."""
    sides: dict[str, dict[str, Any] | None] = {"sync": {}, "node": None}
    if _orjson_installed():
        sides["sync_json"] = {"hide_orjson": True}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for i in range(run.repeat):
        for name, extra in sides.items():
            prefix = f"bench-{name.replace('_', '-')}-{i}"
            if name == "node":
                split, _ = run_stage("es-breakdown", {"db": db, "url": url, "prefix": prefix, "records": n,
                                                      "concurrent_first": i % 2 == 1})
                runs[name].append({**split, "seconds": split["node_seconds"]})
            else:
                runs[name].append(run_stage("es-dmarcflow", {"db": db, "url": url, "prefix": prefix, "records": n,
                                                              **(extra or {})})[0])
            _drop_indices(url, prefix)
    return runs


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
        runs = _against_ceiling(run, url, big_db, sizes.es_records)
        ours, theirs = _compare(run, url, same_db)
        node = f"{engine.engine_name} {engine.version}"
    best = {name: best_of(r) for name, r in runs.items()}
    run.record("es", {"node": node, "warmup": warmup, "runs": runs, "best": best, "same": ours,
                      "parsedmarc": theirs, "orjson_installed": _orjson_installed(),
                      "orjson_declared_by_dmarcflow": _declared_by_dmarcflow("orjson")})
    return _figures(run, node, best, ours, theirs)


def _figures(run: Run, node: str, best: dict[str, dict[str, Any]], ours: dict[str, Any],
             theirs: dict[str, Any]) -> list[Figure]:
    split = best["node"]
    n = split["docs"]
    ceiling = n / split["node_seconds"]
    declared = _declared_by_dmarcflow("orjson")
    figures = []
    for name in ("sync", "sync_json"):
        if name not in best:
            continue
        m = best[name]
        rate = m["docs"] / m["seconds"]
        library = "orjson" if m["serializer"] == "OrjsonSerializer" else "json (standard library)"
        # The target holds for what a plain install gets: orjson only once dmarcflow declares it.
        counts = (library == "orjson") == declared
        figures.append(Figure(
            f"es_sync_vs_node{'' if counts else '_' + library.split()[0]}",
            f"sync into one local node ({n:,} docs), JSON by {library}", "docs/s", rate, ceiling, rate / ceiling,
            TARGET_CEILING if counts else None,
            f"{node}, 512 MB heap, same 2 cores; best of {run.repeat} interleaved runs each; orjson "
            f"{'installed' if _orjson_installed() else 'not installed'}, "
            f"{'declared' if declared else 'not declared'} by dmarcflow"
            + ("" if counts else "; not the target row: a plain install of dmarcflow does not get this library"),
            PEER_NODE, ratio_percent=True))
    sync = best["sync"]
    ours_rate, theirs_rate = ours["docs"] / ours["seconds"], theirs["docs"] / theirs["seconds"]
    return figures + [
        Figure("es_docs_per_s", f"bulk indexing, one local node ({sync['docs']:,} docs)", "docs/s",
               sync["docs"] / sync["seconds"], target=TARGET_RATE, peer="- (absolute)",
               note=f"{node}, JSON by {sync['serializer']}"),
        Figure("es_docs_per_s_vs_parsedmarc", f"indexing the same {ours['docs']:,}-record report", "docs/s",
               ours_rate, theirs_rate, ours_rate / theirs_rate, TARGET_RATIO,
               note=f"best of {run.repeat} interleaved runs each", peer="parsedmarc "
               "save_aggregate_report_to_elasticsearch (one request per record)"),
        Figure("es_node_docs_per_s", f"the node alone: bulk of pre-built documents ({n:,} docs)", "docs/s",
               ceiling, note="the ceiling this node sets on this machine", peer="- (it is the peer)"),
        Figure("es_build_docs_per_s", f"dmarcflow side alone: read + build + serialise ({n:,} docs)", "docs/s",
               n / (split["read_seconds"] + split["build_seconds"] + split["serialise_seconds"]),
               peer="- (explains the sync)",
               note=f"build {split['build_seconds'] / n * 1e6:.0f} us/doc, "
                    f"serialise {split['serialise_seconds'] / n * 1e6:.0f} us/doc ({split.get('serializer', '')})"),
    ]
