"""Every page of ``dmarcflow serve``, and ``report --html``, timed over the summary store (10M records).

The app runs under a real uvicorn on a loopback port in a fresh process; each page is fetched over
HTTP, first once cold (the first request of the process), then ``repeat`` more times: the first and
the best wall time are kept, and the best CPU time of the process (server and client share it) during
a request, which other load on a shared machine disturbs much less than wall time. Pages are asked
for the whole period (the worst case: every day).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks.figures import Figure, Target
from benchmarks.measure import run_stage
from benchmarks.run import Run, log
from benchmarks.stages.summary import DOMAIN, build_store

TARGET = Target("<=", 1, issue="14")


def _pages(db: str) -> list[tuple[str, str]]:
    """(name, path) of every kind of page, with subjects picked from the store (the biggest ones)."""
    from dmarcflow.analysis import list_sources
    from dmarcflow.store import browse
    from dmarcflow.store.readonly import open_readonly

    store = open_readonly(db)
    try:
        ip = list_sources(store, DOMAIN)[0].ip or ""
        sender = list_sources(store, DOMAIN, view="sender")[0].sender
        report = browse.list_reports(store, limit=1)[0]
        last = browse.list_reports(store, limit=1, newest_first=True)[0].begin[:10]
    finally:
        store.close()
    d = quote(DOMAIN)
    return [
        ("overview", "/"), ("domain", f"/domains/{d}"), ("domain, sender view", f"/domains/{d}?view=sender"),
        ("domain, unauthorised sorted by fail, page 3", f"/domains/{d}?class=unauthorised&sort=fail&page=3"),
        ("domain, last 7 days", f"/domains/{d}?since={_days_before(last, 6)}&until={last}"),
        ("source (IP)", f"/domains/{d}/source?ip={quote(ip)}"), ("source (sender)", f"/domains/{d}/source?sender={quote(sender)}"),
        ("reports", "/reports"), ("reports, page 2 of one domain", f"/reports?domain={d}&page=2"),
        ("report detail (first 100 of its records)", f"/reports/{report.id}"),
        ("report detail, records from the middle", f"/reports/{report.id}?from={report.records // 2}"),
        ("rejected", "/rejected"), ("api/summary", "/api/summary"), ("api/senders", f"/api/senders/{d}"),
        ("api/reports", "/api/reports?limit=50"),
    ]


def _days_before(day: str, n: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) - timedelta(days=n)).isoformat()


def child_pages(params: dict[str, Any]) -> dict[str, Any]:
    import httpx
    import uvicorn

    from dmarcflow.web.app import create_app
    from dmarcflow.web.security import Access

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(Path(params["db"]), {}, Access(None, None)), log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for name, path in _pages(params["db"]):
            times, cpu, size = [], [], 0
            for _ in range(1 + params["repeat"]):
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(path)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
                size = len(response.content)
            results[name] = {"path": path, "first_seconds": times[0], "best_seconds": min(times),
                             "best_cpu_seconds": min(cpu), "bytes": size}
    server.should_exit = True
    thread.join(30)
    return {"pages": results}


def child_report(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.store.readonly import open_readonly
    from dmarcflow.web.report import html_report

    store = open_readonly(params["db"])
    started = time.perf_counter()
    text = html_report(store, [DOMAIN], None, None, {}, store_name="bench")
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "bytes": len(text.encode())}


def measure(run: Run) -> list[Figure]:
    db, built = build_store(run)
    from dmarcflow.store import Store

    Store.open(db).close()  # a store built by an older dmarcflow is migrated once (the server never migrates)
    log("timing every web page")
    pages, _ = run_stage("web-pages", {"db": str(db), "repeat": run.repeat})
    report, _ = run_stage("web-report", {"db": str(db)})
    run.record("web", {"pages": pages["pages"], "report_html": report, "peak_rss_mb": pages["peak_rss_mb"]})
    n = f"{built['records']:,} records"
    figures = [
        Figure(f"web_{_key(name)}_seconds", f"web page: {name} ({n})", "s", m["best_seconds"], target=TARGET,
               note=f"GET {m['path']} over loopback; first request {m['first_seconds']:.2f} s; "
                    f"best of {run.repeat}; CPU {m['best_cpu_seconds']:.2f} s; {m['bytes']:,} bytes",
               peer="- (parsedmarc has no web UI)")
        for name, m in pages["pages"].items()
    ]
    figures.append(Figure("web_report_html_seconds", f"report --html, one domain ({n})", "s", report["seconds"],
                          note=f"library call, {report['bytes']:,} bytes", peer="- (parsedmarc has no report)"))
    return figures


def _key(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_").replace("__", "_")
