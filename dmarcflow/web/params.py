"""What a page or an API call was asked, read from its URL: the period, the view, filters, sorting, paging.

Every value is checked here, with the CLI's own parsers and messages, so that a bad value is a 400
that says what to fix, and so that a link can carry the whole question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from dmarcflow.analysis import VIEWS
from dmarcflow.analysis.window import WindowError, check_order, parse_since, parse_until
from dmarcflow.listing import REPORT_STATUSES
from dmarcflow.models import SOURCE_CLASSES

SORT_KEYS = ("messages", "fail", "pass", "name", "class")
MAX_LIMIT = 1_000_000


class ParamError(ValueError):
    """A URL parameter that cannot be read: the message says which and what to use instead."""


@dataclass(frozen=True)
class Query:
    """The parameters of one request (raw text kept for links, parsed values for the library)."""

    since_text: str | None = None
    until_text: str | None = None
    since: date | None = None
    until: date | None = None
    view: str = "ip"
    klass: str | None = None
    sort: str = "messages"
    ascending: bool | None = None  # None: the sort key's natural order (biggest, worst or A first)
    page: int = 1

    def period(self) -> dict[str, str]:
        return {k: v for k, v in (("since", self.since_text), ("until", self.until_text)) if v}

    def link(self, path: str, **changes: object) -> str:
        """``path`` with this request's period and filters, some of them changed (None drops one)."""
        params: dict[str, object] = {**self.period(), "view": self.view if self.view != "ip" else None,
                                     "class": self.klass, "sort": self.sort if self.sort != "messages" else None,
                                     "dir": None if self.ascending is None else ("asc" if self.ascending else "desc")}
        params.update(changes)
        kept = {k: v for k, v in params.items() if v is not None and v != ""}
        return path + ("?" + urlencode(kept) if kept else "")

    def period_link(self, path: str, **extra: object) -> str:
        """``path`` with only this request's period (for links to another kind of page)."""
        kept = {**self.period(), **{k: v for k, v in extra.items() if v is not None}}
        return path + ("?" + urlencode(kept) if kept else "")


def _one(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value.strip() if value is not None and value.strip() else None


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value is not None and value not in allowed:
        raise ParamError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def integer(params: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int = MAX_LIMIT) -> int:
    value = _one(params, name)
    if value is None:
        return default
    if not value.isdigit() or not minimum <= int(value) <= maximum:
        raise ParamError(f"{name}: {value[:40]!r} is not a whole number from {minimum} to {maximum}")
    return int(value)


def optional_integer(params: Mapping[str, str], name: str) -> int | None:
    return integer(params, name, -1) if _one(params, name) is not None else None


def read_query(params: Mapping[str, str]) -> Query:
    since_text, until_text = _one(params, "since"), _one(params, "until")
    try:
        since, until = parse_since(since_text), parse_until(until_text)
        check_order(since, until)
    except WindowError as exc:
        raise ParamError(str(exc).replace("--since", "since").replace("--until", "until")) from None
    return Query(
        since_text=since_text, until_text=until_text, since=since, until=until,
        view=_choice(_one(params, "view"), VIEWS, "view") or "ip",
        klass=_choice(_one(params, "class"), SOURCE_CLASSES, "class"),
        sort=_choice(_one(params, "sort"), SORT_KEYS, "sort") or "messages",
        ascending=_direction(_choice(_one(params, "dir"), ("asc", "desc"), "dir")),
        page=integer(params, "page", 1, minimum=1),
    )


def _direction(value: str | None) -> bool | None:
    return None if value is None else value == "asc"


def report_status(params: Mapping[str, str]) -> str | None:
    return _choice(_one(params, "status"), REPORT_STATUSES, "status")


def text(params: Mapping[str, str], name: str) -> str | None:
    return _one(params, name)
