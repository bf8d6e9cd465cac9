"""The allowed values of every settings key, checked once when the settings are loaded.

Each failure is a ConfigError that names the key as the user wrote it (``[limits] max_ratio`` in the
file, ``DMARCFLOW_LIMITS_MAX_RATIO`` in the environment) and shows a value to write instead.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, fields
from typing import Any, NoReturn
from urllib.parse import urlsplit

from dmarcflow.errors import ConfigError

# Elasticsearch and OpenSearch index names: lowercase, no leading '-', '_' or '+'; room for "-YYYY.MM.DD".
_INDEX_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,200}$")
_MAX_NESTING = 32  # deeper nesting of archives and messages is no report any reporter sends


@dataclass(frozen=True)
class Where:
    """Names a key of one section the way the user set it."""

    section: str  # "limits", "mailboxes.0", ...
    env_prefix: str  # "DMARCFLOW_LIMITS_"
    from_env: frozenset[str]  # keys whose value came from the environment

    def name(self, key: str) -> str:
        return self.env_prefix + key.upper() if key in self.from_env else f"[{self.section}] {key}"

    def fail(self, key: str, value: Any, problem: str, example: Any) -> NoReturn:
        if key in self.from_env:
            instead = f"{self.env_prefix}{key.upper()}={_env_text(example)}"
        else:
            instead = f"{key} = {_toml(example)}"
        raise ConfigError(f"{self.name(key)} = {_toml(value)}: {problem} (write e.g. {instead})")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _env_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _whole(where: Where, obj: Any, key: str, low: int, high: int | None, example: int) -> None:
    value = getattr(obj, key)
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        where.fail(key, value, f"must be a whole number {span}", example)


def _seconds(where: Where, obj: Any, key: str, high: float, example: float) -> None:
    value = getattr(obj, key)
    if not 0 < value <= high:  # also refuses nan
        where.fail(key, value, f"must be a number of seconds above 0 and at most {high:g}", example)


def _existing_file(where: Where, obj: Any, key: str, what: str) -> None:
    value = getattr(obj, key)
    if value and not os.path.isfile(os.path.expanduser(value)):
        where.fail(key, value, f"no such file (give the path of {what}, or leave it empty)", "")


def _not_empty(where: Where, obj: Any, key: str, example: str) -> None:
    if not getattr(obj, key).strip():
        where.fail(key, getattr(obj, key), "must not be empty", example)


def check_limits(obj: Any, where: Where) -> None:
    for f in fields(obj):
        if f.type in (int, "int"):
            _whole(where, obj, f.name, 1, _MAX_NESTING if f.name == "max_depth" else None, f.default)  # type: ignore[arg-type]


def check_enrichment(obj: Any, where: Where) -> None:
    for server in obj.nameservers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            where.fail("nameservers", obj.nameservers, f"{server!r} is not an IP address", ("192.0.2.53",))
    _whole(where, obj, "dns_port", 1, 65535, 53)
    _seconds(where, obj, "dns_timeout", 300, 2.0)
    _whole(where, obj, "dns_workers", 1, 256, 16)
    _existing_file(where, obj, "ip_db", "an MMDB database")


def check_elasticsearch(obj: Any, where: Where) -> None:
    if obj.url:
        _check_url(where, obj.url)
    if not _INDEX_PREFIX.match(obj.index_prefix):
        where.fail("index_prefix", obj.index_prefix,
                   "must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit", "dmarcflow")
    if obj.index_period not in ("day", "month", "year"):
        raise ConfigError(f"[{where.section}] index_period must be day, month or year, not {obj.index_period!r}")
    _whole(where, obj, "retention_days", 0, None, 0)
    _whole(where, obj, "batch_size", 1, 100_000, 2000)
    _seconds(where, obj, "timeout", 3600, 30.0)
    _whole(where, obj, "shards", 1, 1024, 1)
    _whole(where, obj, "replicas", 0, 100, 1)
    _whole(where, obj, "max_retries", 0, 100, 5)
    _existing_file(where, obj, "ca_file", "the CA bundle that signed the cluster's certificate")


def _check_url(where: Where, url: str) -> None:
    example = "https://es.example.net:9200"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        where.fail("url", url, f"not a valid URL ({exc})", example)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        where.fail("url", url, "must be an http:// or https:// URL with a host name", example)
    if port == 0:
        where.fail("url", url, "port 0 is not a port", example)


def check_web(obj: Any, where: Where) -> None:
    _whole(where, obj, "port", 1, 65535, 8080)
    _not_empty(where, obj, "host", "127.0.0.1")


def check_mailbox(obj: Any, where: Where) -> None:
    if obj.tls not in ("implicit", "starttls", "none"):
        raise ConfigError(f"[{where.section}] tls must be implicit, starttls or none, not {obj.tls!r}")
    if not obj.name.strip() or "/" in obj.name:
        where.fail("name", obj.name, "must be a non-empty name without '/' (it is part of imap://NAME/FOLDER/UID)", "reports")
    _whole(where, obj, "port", 0, 65535, 0)
    _whole(where, obj, "batch_size", 1, 10_000, 500)
    for key in ("folder", "archive_folder", "invalid_folder"):
        _not_empty(where, obj, key, {"folder": "INBOX", "archive_folder": "Archive", "invalid_folder": "Invalid"}[key])
    day = 86_400.0
    _seconds(where, obj, "poll_interval", day, 60.0)
    _seconds(where, obj, "idle_timeout", day, 1500.0)
    _seconds(where, obj, "timeout", 3600, 60.0)
    _seconds(where, obj, "reconnect_min", day, 1.0)
    _seconds(where, obj, "reconnect_max", day, 300.0)
    if obj.reconnect_max < obj.reconnect_min:
        where.fail("reconnect_max", obj.reconnect_max,
                   f"must not be below reconnect_min ({obj.reconnect_min:g})", max(obj.reconnect_min, 300.0))
