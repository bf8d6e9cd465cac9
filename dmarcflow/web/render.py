"""The Jinja2 templates shared by the web UI and the HTML report: autoescaped, read from the package.

Autoescaping is on for every template (not chosen by file name), and undefined names are errors, so
a typo cannot turn into an empty cell. Templates and the stylesheet are package data, read through
importlib.resources, so an installed wheel (or a zipped one) works without the source tree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from dmarcflow.web.charts import day_text
from dmarcflow.web.nav import NAV


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,}"


def _pct(part: int | None, whole: int | None) -> str:
    return f"{100 * part / whole:.1f}%" if part is not None and whole else "-"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _day(iso: str | None) -> str:
    return "-" if not iso else iso[:10]


def _ts_day(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


def stylesheet() -> str:
    return resources.files("dmarcflow.web").joinpath("static/style.css").read_text(encoding="utf-8")


class Renderer:
    """Owns the template environment (one per app or report run: no module-level state)."""

    def __init__(self) -> None:
        env = Environment(loader=PackageLoader("dmarcflow.web", "templates"), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters.update(n=_n, share=_share, day=_day, ts_day=_ts_day, day_num=day_text)
        env.globals.update(pct=_pct, nav=NAV)
        self.env = env

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)
