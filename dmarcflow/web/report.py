"""``dmarcflow report --html``: one self-contained HTML file (inline CSS and SVG, no script).

The same templates, charts and library calls as the web UI: the overview, then per domain the trend,
readiness, the senders with their explanations (and fixes where the analysis gives one) and the
impostor candidates. The file carries its own Content-Security-Policy, so even a browser that opens
it from a mail attachment runs nothing and loads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from dmarcflow.analysis import summarise
from dmarcflow.analysis.window import window_of
from dmarcflow.config import ApprovedSenders
from dmarcflow.store import Store
from dmarcflow.web.charts import class_bar, sparkline, trend_chart
from dmarcflow.web.pages import chart_range
from dmarcflow.web.params import Query
from dmarcflow.web.render import Renderer, stylesheet

SENDERS_SHOWN = 25
IMPOSTORS_SHOWN = 100


def _period_text(since: date | None, until: date | None) -> str:
    if since is None and until is None:
        return "all stored data"
    return f"{since.isoformat() if since else 'the beginning'} to {until.isoformat() if until else 'today'} (UTC days)"


def html_report(store: Store, domains: Sequence[str], since: date | None, until: date | None,
                approved: Mapping[str, ApprovedSenders], *, store_name: str, now: datetime | None = None) -> str:
    """The report as one HTML document, domains worst first (as named, when named)."""
    summaries = summarise(store, domains, since, until, approved, view="sender", top=0,
                          order="name" if domains else "worst")
    q = Query(since=since, until=until)
    window = window_of(since, until)
    days = store.series.every_domain_days(window.first_day, window.last_day)
    first, last = chart_range(q, window, [d for ds in days.values() for d in ds])
    sections: list[dict[str, Any]] = []
    for s in summaries:
        d = s.as_dict()
        mine = days.get(s.domain, [])
        impostors = [x for x in d["sources"] if x["verdict"] == "impostor candidate"]
        sections.append({
            "d": d, "senders": d["sources"][:SENDERS_SHOWN],
            "impostors": impostors[:IMPOSTORS_SHOWN], "impostors_total": len(impostors),
            "spark": sparkline(mine, first, last, label=f"{s.domain}: messages per day and DMARC pass rate"),
            "mix": class_bar(d["classes"]), "mix_wide": class_bar(d["classes"], width=320, height=16),
            "chart": trend_chart(mine, *chart_range(q, window, mine),
                                 label=f"{s.domain}: messages per day by class, and the DMARC pass rate"),
        })
    generated = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return Renderer().render("report_file.html", title="DMARC report", current="", standalone=True, logout=False,
                             css=stylesheet(), domains=sections, generated=generated, store_name=store_name,
                             period_text=_period_text(since, until))
