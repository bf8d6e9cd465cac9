"""The catalogue of sending services (package data ``dmarcflow/resources/services.toml``).

Each service says how its mail is recognised (reverse DNS, DKIM and return-path
domains, published networks, AS domains, names), whether it can sign with the
customer's domain and use a custom return path, and the steps that make its
mail align. Recognition runs once per source, never per rollup row.
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from dmarcflow.normalise import OrgDomains, organisational_domain
from dmarcflow.package_data import resource

POOLS = ("shared", "dedicated")
_LISTS = ("also_known_as", "rdns", "as_domains", "dkim", "spf", "networks", "dedicated_rdns")
_RECOGNISERS = ("rdns", "as_domains", "dkim", "spf", "networks")
_KEYS = {"name", "custom_dkim", "custom_return_path", "pool", "fix", *_LISTS}


class CatalogueError(ValueError):
    """A catalogue entry that is malformed (the message names the entry and the key)."""


@dataclass(frozen=True)
class Service:
    name: str
    also_known_as: tuple[str, ...]
    rdns: tuple[str, ...]
    as_domains: tuple[str, ...]
    dkim: tuple[str, ...]
    spf: tuple[str, ...]
    networks: tuple[str, ...]
    custom_dkim: bool
    custom_return_path: bool
    pool: str
    dedicated_rdns: tuple[str, ...]
    fix: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.also_known_as)

    def fix_for(self, domain: str) -> str:
        # str.replace, not format(): a From domain from a forged report may hold braces.
        return self.fix.replace("{domain}", domain)

    def dedicated(self, reverse_dns: str | None) -> bool:
        return any(under(reverse_dns, suffix) for suffix in self.dedicated_rdns)


@dataclass(frozen=True)
class Clues:
    """What a source tells about its sender (all optional; domains lower case)."""

    ip: str
    reverse_dns: str | None = None
    base_domain: str | None = None
    dkim_domain: str | None = None
    spf_domain: str | None = None
    as_domain: str | None = None
    sender: str | None = None


class Catalogue:
    """The services, indexed by each kind of clue."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = tuple(services)
        self._rdns = _index(self.services, "rdns")
        self._dkim = _index(self.services, "dkim")
        self._spf = _index(self.services, "spf")
        self._as = _index(self.services, "as_domains")
        self._names = {n.casefold(): s for s in self.services for n in s.names}
        self._v4 = _NetworkIndex(self.services, 4)
        self._v6 = _NetworkIndex(self.services, 6)

    @classmethod
    def load(cls) -> Catalogue:
        """The catalogue shipped in the package."""
        text = resource("services.toml").read_text(encoding="utf-8")
        return cls.from_toml(text)

    @classmethod
    def from_toml(cls, text: str) -> Catalogue:
        import tomllib  # here: commands that never load the catalogue should not pay for the parser

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"the service catalogue is not valid TOML: {exc}") from None
        entries = data.get("services")
        if not isinstance(entries, list) or not entries:
            raise CatalogueError("the service catalogue needs [[services]] entries")
        services = [service_from(entry, i) for i, entry in enumerate(entries)]
        names = [n.casefold() for s in services for n in s.names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise CatalogueError(f"the service catalogue names {', '.join(duplicates)} more than once")
        return cls(services)

    def named(self, name: str) -> Service | None:
        return self._names.get(name.casefold())

    def recognise(self, clues: Clues) -> Service | None:
        """The service behind a source: reverse DNS first (who sends), then DKIM and return-path domains
        (whose settings produce them), published networks, the AS domain, and last the sender name."""
        return (self.by_names(clues.reverse_dns or clues.base_domain, clues.dkim_domain, clues.spf_domain)
                or self.by_network(clues.ip) or self.by_network_name(clues.as_domain, clues.sender))

    def by_names(self, rdns: str | None, dkim: str | None, spf: str | None) -> Service | None:
        """``recognise``'s steps before the published networks."""
        return _find(self._rdns, rdns) or _find(self._dkim, dkim) or _find(self._spf, spf)

    def by_network_name(self, as_domain: str | None, sender: str | None) -> Service | None:
        """``recognise``'s steps after the published networks."""
        return _find(self._as, as_domain) or (self._names.get(sender.casefold()) if sender else None)

    def by_network(self, ip: str) -> Service | None:
        """The service that publishes a network holding the IP."""
        # socket's parsers, not ipaddress: this runs for every source of a summary.
        try:
            if ":" in ip:
                return self._v6.find(int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big"))
            return self._v4.find(int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big"))
        except (OSError, ValueError):
            return None


class Recogniser:
    """Recognition and IP pools for the sources of one policy domain, memoised on the clues each step reads
    (most sources share their names and differ only in their IP); owned by one summary, so nothing is
    cached between calls."""

    def __init__(self, catalogue: Catalogue, domain: str) -> None:
        self.catalogue = catalogue
        self.domain = domain
        self._by_names: dict[tuple[str | None, str | None, str | None], Service | None] = {}  # the steps before the networks
        self._by_network_names: dict[tuple[str | None, str | None], Service | None] = {}  # the steps after them
        self._pools: dict[tuple[str | None, str | None, str | None, str | None], str | None] = {}
        self._org_domains = OrgDomains()

    def service(self, clues: Clues) -> Service | None:
        """``Catalogue.recognise``, step by step in its order, each memoised on what it reads."""
        names = (clues.reverse_dns or clues.base_domain, clues.dkim_domain, clues.spf_domain)
        try:
            found = self._by_names[names]
        except KeyError:
            found = self._by_names[names] = self.catalogue.by_names(*names)
        if found is None:
            found = self.catalogue.by_network(clues.ip)
        if found is None:
            network_names = (clues.as_domain, clues.sender)
            try:
                found = self._by_network_names[network_names]
            except KeyError:
                found = self._by_network_names[network_names] = self.catalogue.by_network_name(*network_names)
        return found

    def pool(self, service: Service | None, clues: Clues) -> str | None:
        """The pool of a source's IP, given the service recognised from its clues."""
        # The service by name (unique in a catalogue): hashing the entry itself would hash all its lists.
        key = (service.name if service else None, clues.base_domain, clues.as_domain, clues.reverse_dns)
        try:
            return self._pools[key]
        except KeyError:
            found = self._pools[key] = pool_of(service, self.domain, clues, self._org_domains)
            return found


def pool_of(service: Service | None, domain: str, clues: Clues,
            org: Callable[[str], str] = organisational_domain) -> str | None:
    """"dedicated" when the IP is the domain's own (its reverse DNS or AS is under the domain's
    organisational domain) or a service's dedicated-IP naming; the service's pool otherwise; None unknown."""
    own = org(domain)
    for name in (clues.base_domain, clues.as_domain):
        if name and org(name) == own:
            return "dedicated"
    if service is None:
        return None
    return "dedicated" if service.dedicated(clues.reverse_dns) else service.pool


def under(name: str | None, suffix: str) -> bool:
    if not name:
        return False
    name = name.lower().rstrip(".")
    return name == suffix or name.endswith("." + suffix)


def _find(index: Mapping[str, Service], name: str | None) -> Service | None:
    """The entry for the name or the nearest domain above it."""
    while name:
        found = index.get(name)
        if found is not None:
            return found
        name = name.partition(".")[2]
    return None


def _index(services: Iterable[Service], key: str) -> dict[str, Service]:
    out: dict[str, Service] = {}
    for service in services:
        for name in getattr(service, key):
            out.setdefault(name, service)
    return out


class _NetworkIndex:
    """Sorted, non-overlapping-first ranges of one IP version, searched by bisection."""

    def __init__(self, services: Iterable[Service], version: int) -> None:
        ranges = []
        for service in services:
            for text in service.networks:
                net = ipaddress.ip_network(text)
                if net.version == version:
                    ranges.append((int(net.network_address), int(net.broadcast_address), service))
        ranges.sort(key=lambda r: r[0])
        for (_, end, first), (start, _, second) in pairwise(ranges):
            if start <= end:
                raise CatalogueError(f"the networks of {first.name} and {second.name} overlap")
        self._starts = [r[0] for r in ranges]
        self._ranges = ranges

    def find(self, value: int) -> Service | None:
        i = bisect.bisect_right(self._starts, value) - 1
        # Ranges never overlap (checked above), so the nearest start decides.
        if i >= 0 and value <= self._ranges[i][1]:
            return self._ranges[i][2]
        return None


def service_from(entry: Any, position: int) -> Service:
    """One validated entry; CatalogueError names what is wrong."""
    if not isinstance(entry, dict):
        raise CatalogueError(f"service entry {position + 1} is not a table")
    name = entry.get("name")
    where = f"service {name!r}" if isinstance(name, str) and name.strip() else f"service entry {position + 1}"
    unknown = set(entry) - _KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    lists = {key: _strings(entry.get(key, []), where, key, lower=key != "also_known_as") for key in _LISTS}
    _check_text(entry, where)
    if not any(lists[key] for key in _RECOGNISERS):
        raise CatalogueError(f"{where}: needs at least one recogniser ({', '.join(_RECOGNISERS)})")
    for text in lists["networks"]:
        try:
            ipaddress.ip_network(text)
        except ValueError:
            raise CatalogueError(f"{where}: networks: {text!r} is not a CIDR network") from None
    for key in ("custom_dkim", "custom_return_path"):
        if not isinstance(entry.get(key), bool):
            raise CatalogueError(f"{where}: {key} must be true or false")
    if entry.get("pool") not in POOLS:
        raise CatalogueError(f"{where}: pool must be one of {', '.join(POOLS)}")
    return Service(name=entry["name"].strip(), custom_dkim=entry["custom_dkim"],
                   custom_return_path=entry["custom_return_path"], pool=entry["pool"], fix=entry["fix"].strip(),
                   **lists)


def _check_text(entry: Mapping[str, Any], where: str) -> None:
    for key in ("name", "fix"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{where}: {key} must be a non-empty string")
    if "{domain}" not in entry["fix"]:
        raise CatalogueError(f"{where}: fix must name the customer's domain as {{domain}}")


def _strings(value: Any, where: str, key: str, *, lower: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogueError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(v.strip().lower() if lower else v.strip() for v in value)
