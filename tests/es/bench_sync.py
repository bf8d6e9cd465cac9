"""Benchmark (not a test): bulk-index N generated records into the local engine, print docs/s.

    python -m tests.es.bench_sync --records 100000 [--batch-size 2000] [--workdir DIR]

Ingests one generated report of N records into a fresh SQLite store (offline enrichment), then
times ``es sync`` passes: the first creates every document, the second (after a checkpoint reset,
as after a crash) re-sends them all and gets 409s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generator import stream_report_spec, write_report_xml
from dmarcflow.config import ElasticsearchSettings, EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.index import elastic, outbox
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from tests.support.search_engine import SearchEngine


def _ingest(workdir: Path, records: int) -> Path:
    xml, db = workdir / "report.xml", workdir / "store.sqlite"
    write_report_xml(xml, stream_report_spec(seed=7), records, seed=7)
    enricher = Enricher(EnrichmentSettings(offline=True))
    try:
        with Store.open(db) as store:
            outcome, = list(Ingestor(store, enricher, Limits()).ingest_file(str(xml)))
            assert outcome.status == "ingested", outcome.as_dict()
    finally:
        enricher.close()
    return db


def _timed_pass(client, store: Store, settings: ElasticsearchSettings, concurrency: int) -> tuple[elastic.SyncResult, float]:
    started = time.perf_counter()
    result = elastic.Syncer(client, store, settings, concurrency=concurrency).run_once()
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.es.bench_sync")
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="fresh indices each round; the first warms the JVM up")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dmarcflow-bench-"))
    db = _ingest(workdir, args.records)
    with SearchEngine() as engine, Store.open(db) as store:
        rounds = []
        for n in range(args.rounds):
            settings = ElasticsearchSettings(url=engine.url, replicas=0, batch_size=args.batch_size,
                                             index_prefix=f"bench{n}")
            client = elastic.make_client(settings)
            elastic.setup(client, settings)
            created, first = _timed_pass(client, store, settings, args.concurrency)
            outbox.reset(store, elastic.target_of(settings))
            existing, second = _timed_pass(client, store, settings, args.concurrency)
            client.indices.refresh(index=f"bench{n}-*")
            assert client.count(index=f"bench{n}-*")["count"] == created.created == existing.existing == args.records
            rounds.append({"create_docs_per_s": round(created.created / first), "create_s": round(first, 2),
                           "resend_409_docs_per_s": round(existing.existing / second)})
        print(json.dumps({
            "engine": f"{engine.engine_name} {engine.version}", "records": args.records, "batch_size": args.batch_size,
            "concurrency": args.concurrency, "rounds": rounds, "engine_rss_mb": engine.rss_bytes() // 2**20,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
