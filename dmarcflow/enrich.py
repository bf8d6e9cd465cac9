"""IP facts: country and AS from the IPinfo Lite database, reverse DNS, sending service.

The database and the service map are the ones parsedmarc ships; they are opened
once per Enricher. Reverse DNS runs concurrently with a timeout and a bounded
cache, and not at all when offline.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmarcflow.config import EnrichmentSettings
from dmarcflow.errors import ConfigError
from dmarcflow.ip_database import IpDatabase
from dmarcflow.models import IpFacts
from dmarcflow.normalise import OrgDomains
from dmarcflow.service_map import Service, ServiceMap, read_whole

if TYPE_CHECKING:
    import maxminddb

# A dotted quad exactly as ``ipaddress`` accepts it (no leading zeros): the common case skips that parse,
# which was a quarter of enriching a report of distinct IPs; anything else still goes through it.
_PLAIN_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                         r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")

__all__ = ["BoundedCache", "Enricher", "IpFacts", "ReverseDns", "Service", "default_ip_db", "ip_db_path",
           "load_service_map", "open_ip_db", "service_map"]


def _parsedmarc_resource(folder: str, name: str) -> Path:
    """A data file parsedmarc ships, found without importing parsedmarc (that import costs about 0.35 s and 17 MB).

    ``find_spec`` of a top-level package reads where it is installed without running its ``__init__``.
    """
    spec = importlib.util.find_spec("parsedmarc")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("parsedmarc is not installed: it ships the IP database and the sender map dmarcflow reads; "
                          "reinstall dmarcflow with its dependencies")
    return Path(next(iter(spec.submodule_search_locations)), "resources", folder, name)


def default_ip_db() -> Path:
    return _parsedmarc_resource("ipinfo", "ipinfo_lite.mmdb")


def ip_db_path(settings: EnrichmentSettings) -> Path:
    """The MMDB file in use: ``[enrichment] ip_db``, else the IPinfo Lite file parsedmarc ships."""
    return Path(settings.ip_db).expanduser() if settings.ip_db else default_ip_db()


def open_ip_db(settings: EnrichmentSettings) -> maxminddb.Reader:
    """The IP database in use, opened with maxminddb (its metadata too); an unreadable file is a ConfigError
    (config.py checks that it exists)."""
    import maxminddb  # here: ingest reads it through IpDatabase, without this import

    path, where = _ip_db_where(settings.ip_db)
    try:
        return maxminddb.open_database(path)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise _unreadable(where, path, exc) from None


def service_map_path() -> Path:
    return _parsedmarc_resource("maps", "base_reverse_dns_map.csv")


def load_service_map(path: Path | None = None) -> dict[str, Service]:
    """The whole map parsedmarc ships of reverse-DNS base domains to services (about 39,000 rows)."""
    return read_whole(path or service_map_path())


def service_map() -> ServiceMap:
    """The same map, read on its first lookup and searched without building a dict (what ingest uses)."""
    return ServiceMap(service_map_path())


class BoundedCache(OrderedDict[str, str | None]):
    """A small LRU map; injected, not a module global, so tests stay independent."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: str | None) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class ReverseDns:
    def __init__(self, settings: EnrichmentSettings, cache: BoundedCache | None = None) -> None:
        self._settings = settings
        self._cache = cache if cache is not None else BoundedCache(100_000)
        import dns.resolver  # here, not at the top: it pulls in httpcore and trio (0.25 s), offline runs never need it

        resolver = dns.resolver.Resolver(configure=not settings.nameservers)
        if settings.nameservers:
            resolver.nameservers = list(settings.nameservers)
            resolver.port = settings.dns_port
        resolver.lifetime = settings.dns_timeout
        self._resolver = resolver

    def lookup(self, ip: str) -> str | None:
        if ip in self._cache:
            return self._cache[ip]
        import dns.exception
        import dns.reversename

        try:
            answer = self._resolver.resolve(dns.reversename.from_address(ip), "PTR")
            name = str(answer[0]).rstrip(".").lower()
        except (dns.exception.DNSException, ValueError):
            name = None
        self._cache.put(ip, name)
        return name

    def lookup_many(self, ips: list[str]) -> dict[str, str | None]:
        ips = list(dict.fromkeys(ips))  # one lookup per address, even when asked twice
        if not ips:
            return {}
        from concurrent.futures import ThreadPoolExecutor  # here: offline runs never start a thread

        workers = max(1, min(self._settings.dns_workers, len(ips)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(zip(ips, pool.map(self.lookup, ips), strict=True))


def _ip_db_where(configured: str) -> tuple[str, str]:
    """The database's path, and how to name it in an error."""
    path = str(Path(configured).expanduser()) if configured else str(default_ip_db())
    return path, f'[enrichment] ip_db = "{configured}"' if configured else f"the bundled IP database {path}"


def _unreadable(where: str, path: str, exc: BaseException) -> ConfigError:
    return ConfigError(f"{where}: not a readable MMDB database ({exc}); give an IPinfo, MaxMind or DB-IP .mmdb "
                       "file, or leave ip_db empty")


def _open_ip_db(configured: str) -> IpDatabase:
    path, where = _ip_db_where(configured)
    try:
        return IpDatabase(path)
    except (OSError, ValueError) as exc:
        raise _unreadable(where, path, exc) from None


class Enricher:
    def __init__(self, settings: EnrichmentSettings, services: Mapping[str, Service] | ServiceMap | None = None) -> None:
        self.settings = settings
        self._db = _open_ip_db(settings.ip_db)
        self._services = services if services is not None else service_map()
        self._rdns = None if settings.offline else ReverseDns(settings)
        self._org_domains = OrgDomains()

    @property
    def offline(self) -> bool:
        return self._rdns is None

    def close(self) -> None:
        self._db.close()

    def facts_many(self, ips: list[str]) -> list[IpFacts]:
        names = self._rdns.lookup_many(ips) if self._rdns else {}
        return [self.facts(ip, names.get(ip)) for ip in ips]

    def facts(self, ip: str, reverse_dns: str | None = None) -> IpFacts:
        record = self._db_record(ip)
        asn = _asn(record.get("asn"))
        as_domain = _lower(record.get("as_domain"))
        base = self._org_domains(reverse_dns) if reverse_dns else None
        service = self._service_for(base, as_domain)
        sender = service.name if service else (base or record.get("as_name") or (f"AS{asn}" if asn else ip))
        # positional, in field order: keywords cost a third more, once per distinct IP of a report
        return IpFacts(ip, reverse_dns, base, record.get("country_code"), asn, record.get("as_name"), as_domain,
                       sender, service.type if service else None, self._rdns is not None)

    def _service_for(self, base: str | None, as_domain: str | None) -> Service | None:
        for key in (base, as_domain):
            found = self._services.get(key) if key else None
            if found is not None:
                return found
        return None

    def _db_record(self, ip: str) -> dict[str, Any]:
        try:
            if not _PLAIN_IPV4.fullmatch(ip):
                ipaddress.ip_address(ip)  # the database reader takes forms such as "1.2.3" that are no address
            record = self._db.get(ip)
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}


def _asn(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.upper().startswith("AS") and value[2:].isdigit():
        return int(value[2:])
    return None


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and value else None
