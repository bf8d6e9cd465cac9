"""What `dmarcflow --version --verbose` reports: versions, the IP database in use and its licence.

The version has one source, ``dmarcflow.__version__`` (pyproject.toml reads it from there).
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from dmarcflow import __version__
from dmarcflow.config import EnrichmentSettings
from dmarcflow.enrich import default_ip_db, ip_db_path, open_ip_db
from dmarcflow.errors import ConfigError

# The distributions whose versions matter when reporting a problem (optional ones say "not installed").
KEY_DEPENDENCIES = (
    "click", "lxml", "publicsuffixlist", "maxminddb", "dnspython", "imapclient", "elasticsearch",
    "opensearch-py", "parsedmarc", "prometheus-client", "orjson",
)

# Licence and attribution by the MMDB "database_type" prefix of the known free databases.
_LICENCES = (
    ("ipinfo", "IPinfo Lite, by IPinfo (ipinfo.io)", "CC BY-SA 4.0",
     "IP address data powered by IPinfo (https://ipinfo.io), licensed under CC BY-SA 4.0"),
    ("dbip", "DB-IP Lite, by DB-IP (db-ip.com)", "CC BY 4.0",
     "IP geolocation by DB-IP (https://db-ip.com), licensed under CC BY 4.0"),
    ("geolite2", "GeoLite2, by MaxMind (maxmind.com)", "GeoLite2 End User License Agreement",
     "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com"),
)


@dataclass(frozen=True)
class IpDatabaseInfo:
    path: str
    bundled: bool  # the file parsedmarc ships
    database_type: str  # from the MMDB metadata
    build_date: str  # ISO 8601 UTC, from the MMDB metadata (build_epoch)
    provider: str
    licence: str
    attribution: str
    error: str = ""  # set (and the rest empty) when the file cannot be opened


@dataclass(frozen=True)
class VersionInfo:
    version: str
    python: str
    dependencies: dict[str, str]
    ip_database: IpDatabaseInfo

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dependency_versions(names: tuple[str, ...] = KEY_DEPENDENCIES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def ip_database_info(settings: EnrichmentSettings) -> IpDatabaseInfo:
    path = ip_db_path(settings)
    bundled = not settings.ip_db
    try:
        reader = open_ip_db(settings)
    except ConfigError as exc:
        return IpDatabaseInfo(str(path), bundled, "", "", "", "", "", error=str(exc))
    try:
        meta = reader.metadata()
        kind, epoch = str(meta.database_type), int(meta.build_epoch)
    finally:
        reader.close()
    built = datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
    provider, licence, attribution = _licence_of(kind)
    if bundled:
        provider += f", shipped in parsedmarc {_version_of('parsedmarc')} ({_relative(default_ip_db())})"
    return IpDatabaseInfo(str(path), bundled, kind, built, provider, licence, attribution)


def version_info(settings: EnrichmentSettings) -> VersionInfo:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return VersionInfo(__version__, python, dependency_versions(), ip_database_info(settings))


def _licence_of(database_type: str) -> tuple[str, str, str]:
    kind = database_type.lower().replace("-", "")
    for prefix, provider, licence, attribution in _LICENCES:
        if kind.startswith(prefix):
            return provider, licence, attribution
    return "unknown provider", "see the provider's licence", ""


def _version_of(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _relative(path: object) -> str:
    text = str(path)
    marker = "parsedmarc/"
    return text[text.rfind(marker):] if marker in text else text
