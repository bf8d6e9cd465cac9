"""The index template and the names of the time-based indices.

Every field is mapped explicitly and the mapping is ``dynamic: strict``: a document with a field
the template does not know is refused (and reported) rather than guessed into a type.

Why time-based indices rather than a data stream: the document ``_id`` is only unique within one
index. A document always goes to the index of its report's period, so re-sending it lands on the
same index and ``op_type: create`` answers 409: re-syncs are idempotent. A data stream writes to
whichever backing index is current, so a re-sent document after a rollover would be a duplicate.
Retention deletes whole indices whose period ended long enough ago (by event time, which ILM's
index age cannot express).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

TEMPLATE_VERSION = 1
REFRESH_INTERVAL = "10s"
PERIOD_FORMATS = {"day": "%Y.%m.%d", "month": "%Y.%m", "year": "%Y"}
_PERIOD_PATTERNS = {"day": r"\d{4}\.\d{2}\.\d{2}", "month": r"\d{4}\.\d{2}", "year": r"\d{4}"}
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,200}$")

KEYWORD = {"type": "keyword", "ignore_above": 1024}
DATE = {"type": "date"}
LONG = {"type": "long"}
BOOLEAN = {"type": "boolean"}


def _obj(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"properties": properties}


def _keywords(*names: str) -> dict[str, Any]:
    return _obj(**dict.fromkeys(names, KEYWORD))


ECS_PROPERTIES: dict[str, Any] = {
    "@timestamp": DATE,
    "ecs": _keywords("version"),
    "event": _obj(
        start=DATE, end=DATE, ingested=DATE, sequence=LONG, kind=KEYWORD, category=KEYWORD, type=KEYWORD,
        dataset=KEYWORD, module=KEYWORD,
    ),
    "source": _obj(
        ip={"type": "ip"}, domain=KEYWORD, registered_domain=KEYWORD,
        geo=_keywords("country_iso_code"),
        **{"as": _obj(number=LONG, organization=_keywords("name"))},
    ),
    "related": _obj(ip={"type": "ip"}, hosts=KEYWORD),
}

# Auth results are ``nested`` so that "DKIM pass for d=example.com" matches one signature,
# not a pass of one and the domain of another; ``include_in_parent`` also copies the fields
# into the record itself, where Kibana's aggregation editors (which do not do nested) see them.
_AUTH_NESTED = {"type": "nested", "include_in_parent": True}

DMARC_PROPERTIES: dict[str, Any] = {
    "report": _obj(
        uid=KEYWORD, id=KEYWORD, org_name=KEYWORD, org_email=KEYWORD, extra_contact_info=KEYWORD, begin=DATE, end=DATE,
        status=KEYWORD, schema=KEYWORD, generator=KEYWORD, errors=KEYWORD, defaults_applied=KEYWORD,
    ),
    "policy_published": _obj(
        domain=KEYWORD, p=KEYWORD, sp=KEYWORD, np=KEYWORD, pct={"type": "integer"}, adkim=KEYWORD,
        aspf=KEYWORD, fo=KEYWORD, testing=KEYWORD, discovery_method=KEYWORD,
    ),
    "policy_evaluated": _obj(
        disposition=KEYWORD, dkim=KEYWORD, spf=KEYWORD, reasons=_keywords("type", "comment"), reasons_key=KEYWORD,
    ),
    "pass": BOOLEAN,
    "aligned": _obj(dkim=BOOLEAN, spf=BOOLEAN, dkim_domain=KEYWORD, spf_domain=KEYWORD),
    "identifiers": _keywords("header_from", "envelope_from", "envelope_to"),
    "auth_results": _obj(
        dkim={**_AUTH_NESTED, **_keywords("domain", "selector", "result", "human_result")},
        spf={**_AUTH_NESTED, **_keywords("domain", "scope", "result", "human_result")},
    ),
    "auth_summary": _keywords("dkim", "spf"),
    "count": LONG,
    "position": LONG,
    "sender": KEYWORD,
    "sender_type": KEYWORD,
    "class": KEYWORD,
    "explanation": {"type": "text"},
}


def mappings() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "_meta": {"managed_by": "dmarcflow", "template_version": TEMPLATE_VERSION},
        "properties": {**ECS_PROPERTIES, "dmarc": _obj(**DMARC_PROPERTIES)},
    }


def check_prefix(prefix: str) -> str:
    """Index names must be lowercase and cannot start with '-', '_' or '+'."""
    if not _PREFIX.match(prefix):
        from dmarcflow.errors import ConfigError

        raise ConfigError(f"[elasticsearch] index_prefix {prefix!r} must be lowercase letters, digits, '-', '_' or '.'")
    return prefix


def template_names(prefix: str) -> tuple[str, str, str]:
    """(index template, mappings component, settings component)."""
    return prefix, f"{prefix}-mappings", f"{prefix}-settings"


def index_pattern(prefix: str) -> str:
    return f"{prefix}-*"


def component_templates(shards: int, replicas: int) -> dict[str, dict[str, Any]]:
    """Body of each component template, keyed by its role ('mappings', 'settings')."""
    return {
        "mappings": {"template": {"mappings": mappings()}, "version": TEMPLATE_VERSION},
        "settings": {
            # Reports arrive a few times a day: a refresh every 10 s instead of every second costs
            # the cluster far less while a sync writes, and dashboards do not need fresher data.
            "template": {"settings": {"index": {"number_of_shards": shards, "number_of_replicas": replicas,
                                                "refresh_interval": REFRESH_INTERVAL}}},
            "version": TEMPLATE_VERSION,
        },
    }


def index_template(prefix: str) -> dict[str, Any]:
    _, mappings_name, settings_name = template_names(prefix)
    return {
        "index_patterns": [index_pattern(prefix)],
        "composed_of": [mappings_name, settings_name],
        # Above the built-in templates (priority 100-ish) and any catch-all a user may have.
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": "dmarcflow"},
    }


def index_name(prefix: str, period: str, epoch_seconds: int) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return f"{prefix}-{moment.strftime(PERIOD_FORMATS[period])}"


class IndexNames:
    """``index_name``, memoised for one owner (a syncer): every record of a report asks for the same name."""

    def __init__(self, size: int = 4096) -> None:
        self._memo: dict[tuple[str, str, int], str] = {}
        self._size = size

    def __call__(self, prefix: str, period: str, epoch_seconds: int) -> str:
        key = (prefix, period, epoch_seconds)
        found = self._memo.get(key)
        if found is None:
            found = index_name(prefix, period, epoch_seconds)
            if len(self._memo) < self._size:
                self._memo[key] = found
        return found


def period_end(prefix: str, period: str, name: str) -> datetime | None:
    """When the period an index holds ends; None if the name is not one of ours."""
    match = re.fullmatch(re.escape(prefix) + "-(" + _PERIOD_PATTERNS[period] + ")", name)
    if match is None:
        return None
    start = datetime.strptime(match.group(1), PERIOD_FORMATS[period]).replace(tzinfo=UTC)
    if period == "day":
        return start + timedelta(days=1)
    if period == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start.replace(year=start.year + 1)


def expired_indices(prefix: str, period: str, names: list[str], retention_days: int, now: datetime) -> list[str]:
    """Our indices whose whole period is older than the retention (none when retention is 0)."""
    if retention_days <= 0:
        return []
    cutoff = now - timedelta(days=retention_days)
    return sorted(n for n in names if (end := period_end(prefix, period, n)) is not None and end <= cutoff)
