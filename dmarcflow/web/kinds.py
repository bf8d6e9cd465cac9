"""The SMTP TLS report and DMARC failure report pages, from the same library calls as `dmarcflow tls summary`
and `dmarcflow failures` (no SQL here: see dmarcflow/store/tls.py and failures.py).

Every figure comes from the ``as_dict()`` that ``--format json`` prints. Report text (organisation names,
result types, reason codes, subjects, headers) is attacker-controlled: the templates escape all of it. A
failure report's body is never shown: the store keeps none by default, and a kept sample stays there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dmarcflow.analysis.failures import count_failures, failure_detail, list_failures
from dmarcflow.analysis.tls import failure_totals, summarise_tls
from dmarcflow.analysis.window import window_of
from dmarcflow.answers import domain_name
from dmarcflow.config import ApprovedSenders
from dmarcflow.store import Store
from dmarcflow.store.failures import FailureReports
from dmarcflow.store.tls import TlsReports
from dmarcflow.web.charts import session_sparkline, sessions_chart
from dmarcflow.web.pages import chart_range, paging
from dmarcflow.web.params import Query

FAILURES_PAGE = 50


def tls_overview(store: Store, q: Query) -> dict[str, Any]:
    """Every policy domain with TLS reports in the period, in the order of ``tls summary``.

    Only the biggest failure group of each is turned into a dictionary (the page shows no other): a domain
    whose reports name a sending IP each has as many groups as reports.
    """
    window = window_of(q.since, q.until)
    days = TlsReports(store).every_domain_days(window.begin_ts, window.end_ts)
    first, last = chart_range(q, window, [d for ds in days.values() for d in ds])
    rows = []
    for s in summarise_tls(store, (), q.since, q.until):
        label = f"{s.domain}: TLS sessions per day and the success rate"
        rows.append({"d": replace(s, failures=s.failures[:1]).as_dict(),
                     "spark": session_sparkline(days.get(s.domain, []), first, last, label=label)})
    return {"rows": rows, "chart_first": first, "chart_last": last}


def tls_domain(store: Store, q: Query, domain: str) -> dict[str, Any] | None:
    """One policy domain: its ``tls summary`` answer, the sessions per day, and its failures three ways."""
    name = domain_name(domain)
    found = summarise_tls(store, [name], q.since, q.until)
    if not found:
        return None
    d = found[0].as_dict()
    window = window_of(q.since, q.until)
    days = TlsReports(store).day_rows(name, window.begin_ts, window.end_ts)
    first, last = chart_range(q, window, days)
    groups = found[0].failures
    return {
        "d": d, "domain": name,
        "chart": sessions_chart(days, first, last, label=f"{name}: TLS sessions per day, and the success rate"),
        "by_result": failure_totals(groups, "result_type", "receiving_mx_hostname"),
        "by_mx": failure_totals(groups, "receiving_mx_hostname", "result_type"),
        "by_ip": failure_totals(groups, "sending_mta_ip", "result_type"),
    }


def failures_page(store: Store, approved: Mapping[str, ApprovedSenders], q: Query,
                  domain: str | None) -> dict[str, Any]:
    """A page of failure reports, newest first (``failures --limit --offset``), of one domain if asked."""
    name = domain_name(domain) if domain else None
    pg = paging(count_failures(store, name, q.since, q.until), q.page, FAILURES_PAGE)
    listing = list_failures(store, name, q.since, q.until, approved, limit=FAILURES_PAGE,
                            offset=max(0, pg.first - 1))
    answer = listing.as_dict()
    return {"failures": answer["failures"], "sources": answer["sources"], "paging": pg,
            "domains": FailureReports(store).domains(), "domain": name}


def failure_page(store: Store, approved: Mapping[str, ApprovedSenders], pk: int) -> dict[str, Any] | None:
    f = failure_detail(store, pk, approved)
    return None if f is None else {"f": f}


def domain_kinds(store: Store, q: Query, domain: str) -> dict[str, Any]:
    """What the other report kinds say of a domain in the period, for its domain page: its ``tls summary``
    answer (None: no TLS report) and how many failure reports name it."""
    name = domain_name(domain)
    found = summarise_tls(store, [name], q.since, q.until)
    return {"tls": replace(found[0], failures=found[0].failures[:1]).as_dict() if found else None,
            "failure_reports": count_failures(store, name, q.since, q.until)}
