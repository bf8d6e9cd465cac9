"""Links between pages, built from the request's Query so that a view (period, filters, sorting) is shareable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from dmarcflow.models import SOURCE_CLASSES
from dmarcflow.web.params import Query

_DESCENDING_FIRST = ("messages", "fail", "class")  # the other sort keys start ascending


def domain_path(domain: str) -> str:
    return "/domains/" + quote(domain, safe="")


def source_link(q: Query, domain: str, view: str) -> Callable[[dict[str, Any]], str]:
    path = domain_path(domain) + "/source"
    if view == "ip":
        return lambda s: q.period_link(path, ip=s["ip"])
    return lambda s: q.period_link(path, sender=s["sender"])


def sources_table(q: Query, domain: str) -> dict[str, Any]:
    """The links and headings of a domain's sources table: view, class filter, sorting, pages."""
    here = domain_path(domain)
    ascending = q.ascending if q.ascending is not None else q.sort not in _DESCENDING_FIRST

    def sort_dir(key: str) -> str | None:
        if key != q.sort:
            return None
        return "desc" if ascending else "asc"

    name = "IP" if q.view == "ip" else "sender"
    second = "sender" if q.view == "ip" else "IPs"
    columns = [("name", name, False), (None, second, False), (None, "country", False), ("messages", "messages", True),
               ("fail", "DMARC fail", True), ("pass", "pass", True), ("class", "class", False), (None, "verdict", False)]
    return {
        "here": here, "classes": SOURCE_CLASSES, "columns": columns, "sort_dir": sort_dir,
        "sorted_ascending": ascending, "source_link": source_link(q, domain, q.view),
        "page_link": lambda n: q.link(here, page=n) + "#sources",
    }
