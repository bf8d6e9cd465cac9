"""What each page shows, from the same library calls the CLI makes (no SQL here: see dmarcflow/store/).

Figures are taken from the ``as_dict()`` of the library's objects, the very dictionaries that
``--format json`` prints, so a page cannot disagree with the CLI; any key the library adds (such as
a domain's ``status`` or a source's ``fix``) reaches the templates without a change here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

from dmarcflow.analysis import Source, list_sources, summarise
from dmarcflow.analysis.window import Window, window_of
from dmarcflow.answers import domain_name
from dmarcflow.config import ApprovedSenders
from dmarcflow.listing import report_filter
from dmarcflow.models import SOURCE_CLASSES
from dmarcflow.store import Store
from dmarcflow.web.charts import class_bar, sparkline, trend_chart
from dmarcflow.web.params import Query

SOURCES_PAGE = 50
REPORTS_PAGE = 50
RECORDS_PAGE = 100
REJECTED_PAGE = 50
FAILING = ("misconfigured", "unauthorised")
_SEVERITY = {k: i for i, k in enumerate(SOURCE_CLASSES)}
Approved = Mapping[str, ApprovedSenders]
T = TypeVar("T")


class Aside(Protocol):
    """Runs a read alongside the page's main library call (on another read-only connection, in the web
    UI: SQLite releases the GIL while it steps, so a chart's query overlaps the summary's Python work)."""

    def __call__(self, read: Callable[[Store], T]) -> Future[T]: ...


def inline(store: Store) -> Aside:
    """An Aside that runs the read at once on the same store (the HTML report, tests)."""
    def run(read: Callable[[Store], T]) -> Future[T]:
        done: Future[T] = Future()
        done.set_result(read(store))
        return done
    return run


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    total: int
    first: int  # 1-based number of the first row shown (0 when none)
    last: int


def paging(total: int, page: int, size: int) -> Paging:
    pages = max(1, -(-total // size))
    page = min(page, pages)
    first = (page - 1) * size
    return Paging(page, pages, total, first + 1 if total else 0, min(total, first + size))


def _today() -> int:
    return datetime.now(UTC).date().toordinal() - date(1970, 1, 1).toordinal()


class _Dated(Protocol):
    @property
    def day(self) -> int: ...


def chart_range(q: Query, window: Window, days: Sequence[_Dated]) -> tuple[int, int]:
    """The days a chart spans: the period asked for, or else the days that have data."""
    have = [d.day for d in days]
    first = window.first_day if q.since else min(have, default=_today())
    last = window.last_day if q.until else max(have + ([_today()] if q.since else []), default=first)
    return first, last


def overview(store: Store, approved: Approved, q: Query, aside: Aside) -> dict[str, Any]:
    """Every policy domain with data, worst first (analysis.overview, as the CLI), with a sparkline each."""
    window = window_of(q.since, q.until)
    all_days = aside(lambda s: s.series.every_domain_days(window.first_day, window.last_day))
    summaries = summarise(store, (), q.since, q.until, approved, view="ip", top=10, order="worst")
    days = all_days.result()
    first, last = chart_range(q, window, [d for ds in days.values() for d in ds])
    rows = []
    for s in summaries:
        d = s.as_dict()
        rows.append({"d": d, "mix": class_bar(d["classes"]),
                     "spark": sparkline(days.get(s.domain, []), first, last,
                                        label=f"{s.domain}: messages per day and DMARC pass rate")})
    return {"rows": rows, "chart_first": first, "chart_last": last}


def _sort_key(q: Query, view: str) -> tuple[Any, bool]:
    """(key function, reverse) for the sources table. Python's sort is stable, also reversed, so ties
    keep the library's order (biggest first, then by name): the default view is exactly the CLI's."""
    def name(s: Source) -> str:
        return str(s.sender if view == "sender" else s.ip).lower()

    def rate(s: Source) -> float:
        return s.dmarc_pass / s.messages if s.messages else 0.0

    keys: dict[str, Any] = {
        "messages": (lambda s: s.messages, True),
        "fail": (lambda s: s.dmarc_fail, True),
        "pass": (rate, False),
        "name": (name, False),
        "class": (lambda s: _SEVERITY.get(s.klass, 0), True),
    }
    key, natural = keys[q.sort]
    return key, natural if q.ascending is None else not q.ascending


def domain_page(store: Store, approved: Approved, q: Query, domain: str, aside: Aside) -> dict[str, Any] | None:
    """A domain's summary in the chosen view, its trend, a page of its sources, its top reporters.

    The summary lists every source (top=0); only the page shown and the failing ones are turned into
    dictionaries (a big domain has tens of thousands of sources).
    """
    name = domain_name(domain)
    window = window_of(q.since, q.until)
    later = aside(lambda s: (s.series.domain_days(name, window.first_day, window.last_day),
                             s.reports.domain_reporters(name, window.begin_ts, window.end_ts, 10)))
    found = summarise(store, [name], q.since, q.until, approved, view=q.view, top=0)
    days, reporters = later.result()
    if not found:
        return None
    summary = found[0]
    d = replace(summary, sources=()).as_dict()
    shown = [s for s in summary.sources if q.klass is None or s.klass == q.klass]
    key, reverse = _sort_key(q, q.view)
    shown.sort(key=key, reverse=reverse)
    pg = paging(len(shown), q.page, SOURCES_PAGE)
    failing = [s for s in summary.sources if s.klass in FAILING]
    first, last = chart_range(q, window, days)
    return {
        "d": d, "sources": [s.as_dict() for s in shown[pg.first - 1:pg.last]] if pg.total else [], "paging": pg,
        "class_counts": Counter(s.klass for s in summary.sources), "failing": [s.as_dict() for s in failing[:20]],
        "failing_total": len(failing),
        "chart": trend_chart(days, first, last, label=f"{name}: messages per day by class, and the DMARC pass rate"),
        "mix": class_bar(d["classes"], width=320, height=16),
        "reporters": reporters,
    }


def source_page(store: Store, approved: Approved, q: Query, domain: str, *, ip: str | None,
                sender: str | None) -> dict[str, Any] | None:
    """One source (an IP, or a sender's IPs) of a domain: its figures, history, reporters and auth domains."""
    view = "ip" if ip is not None else "sender"
    sources = list_sources(store, domain, q.since, q.until, approved, view=view)
    match = next((s for s in sources if (s.ip == ip if view == "ip" else s.sender == sender)), None)
    if match is None:
        return None
    d = match.as_dict()
    name = domain_name(domain)
    window = window_of(q.since, q.until)
    ips = list(match.ips)
    days = store.series.source_days(name, ips, window.first_day, window.last_day)
    first, last = chart_range(q, window, days)
    title = ip if view == "ip" else sender
    return {
        "s": d, "domain": name, "view": view,
        "chart": trend_chart(days, first, last, label=f"{title} sending as {name}: messages per day by class"),
        "reporters": store.reports.source_reporters(name, ips, window.begin_ts, window.end_ts),
        "auth": store.series.source_auth(name, ips, window.first_day, window.last_day),
        "ips": ips[:200], "more_ips": max(0, len(ips) - 200),
    }


def reports_page(store: Store, q: Query, domain: str | None, status: str | None) -> dict[str, Any]:
    """A page of stored reports, newest first, of one domain and status if asked."""
    where = report_filter(domain, q.since, q.until, status)
    total = store.reports.count(where)
    pg = paging(total, q.page, REPORTS_PAGE)
    rows = store.reports.listing(where, limit=REPORTS_PAGE, offset=max(0, pg.first - 1), newest_first=True)
    return {"rows": rows, "paging": pg, "domains": store.reports.domains(), "domain": where.domain,
            "status": status}


def report_page(store: Store, pk: int, first_position: int) -> dict[str, Any] | None:
    detail = store.reports.detail(pk)
    if detail is None:
        return None
    records = store.reports.records(pk, first_position, RECORDS_PAGE + 1)
    more = len(records) > RECORDS_PAGE
    return {"r": detail, "records": records[:RECORDS_PAGE], "first_position": first_position,
            "next_position": records[RECORDS_PAGE].position if more else None,
            "prev_position": max(0, first_position - RECORDS_PAGE) if first_position > 0 else None}


def rejected_page(store: Store, page: int) -> dict[str, Any]:
    pg = paging(store.rejected.count(), page, REJECTED_PAGE)
    rows = store.rejected.rows(limit=REJECTED_PAGE, offset=max(0, pg.first - 1), newest_first=True)
    return {"rows": rows, "paging": pg}
