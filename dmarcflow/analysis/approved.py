"""The approved-senders list of one policy domain, turned into a matcher.

A source is approved when its sending service name (``ip_info.sender``, or the
catalogue service recognised for it; case insensitive), its IP (in a CIDR
network) or its reverse-DNS base domain (``ip_info.base_domain``, or a
reverse-DNS name under the listed domain) matches an entry. ``not_ours`` takes
the same three forms in one list and marks senders known not to be the
domain's. Entries are checked once, when the matcher is built.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dmarcflow.config import ApprovedSenders
from dmarcflow.errors import ConfigError
from dmarcflow.normalise import organisational_domain

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class SourceFacts:
    """What the matcher needs to know about a sending IP."""

    ip: str
    sender: str | None
    base_domain: str | None
    reverse_dns: str | None
    service_names: tuple[str, ...] = ()  # the recognised catalogue service's name and other names


@dataclass(frozen=True)
class EntrySet:
    """Service names (case-folded), networks and reverse-DNS domains; matches any of them."""

    services: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    rdns_domains: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.services or self.networks or self.rdns_domains)

    def match(self, facts: SourceFacts) -> str | None:
        """Which entry matches (e.g. "network 192.0.2.0/24"), or None."""
        if facts.sender and facts.sender.casefold() in self.services:
            return f"service {facts.sender}"
        for name in facts.service_names:
            if name.casefold() in self.services:
                return f"service {name}"
        address = _address(facts.ip) if self.networks else None
        for net in self.networks:
            if address is not None and address.version == net.version and address in net:
                return f"network {net}"
        for entry in self.rdns_domains:
            if _under(facts.base_domain, entry) or _under(facts.reverse_dns, entry):
                return f"reverse DNS {entry}"
        return None


@dataclass(frozen=True)
class ApprovedMatcher:
    domain: str
    approved: EntrySet = EntrySet()
    not_ours: EntrySet = EntrySet()

    @property
    def empty(self) -> bool:
        return self.approved.empty and self.not_ours.empty

    def match(self, facts: SourceFacts) -> str | None:
        """Why the source is approved (e.g. "network 192.0.2.0/24"), or None."""
        return self.approved.match(facts)

    def disowned(self, facts: SourceFacts) -> str | None:
        """Which not_ours entry matches the source, or None."""
        return self.not_ours.match(facts)


NO_APPROVED = ApprovedMatcher(domain="")


def matcher_for(domain: str, approved: Mapping[str, ApprovedSenders]) -> ApprovedMatcher:
    """The list for the policy domain, else the one of its organisational domain, else empty."""
    entry = approved.get(domain)
    if entry is None:
        entry = approved.get(organisational_domain(domain))
    return build_matcher(domain, entry) if entry is not None else NO_APPROVED


def build_matcher(domain: str, entry: ApprovedSenders) -> ApprovedMatcher:
    where = f'[approved."{domain}"]'
    services = []
    for name in entry.services:
        if not name.strip():
            raise ConfigError(f'{where} services: an entry is empty (use the service name, e.g. "SendGrid")')
        services.append(name.strip().casefold())
    networks = tuple(_network(net, where) for net in entry.networks)
    rdns = tuple(_rdns_domain(d, where) for d in entry.rdns_domains)
    approved = EntrySet(frozenset(services), networks, rdns)
    return ApprovedMatcher(domain, approved, _not_ours(entry.not_ours, where))


def _not_ours(entries: tuple[str, ...], where: str) -> EntrySet:
    """Each entry is a network (CIDR or bare IP), or a name: a domain-like name matches the sender
    name and reverse DNS, any other name the sender name."""
    names, networks, domains = [], [], []
    for text in entries:
        value = text.strip()
        if not value:
            raise ConfigError(f"{where} not_ours: an entry is empty (use a sender name, a network or a domain)")
        if "/" in value or _address(value) is not None:
            networks.append(_network(value, where, "not_ours"))
            continue
        if "*" in value or "://" in value:
            raise ConfigError(f"{where} not_ours: {text!r} is not a sender name, a network or a domain name "
                              "(no wildcards or URLs)")
        names.append(value.casefold())
        if "." in value and _HOSTNAME.match(value.lower().rstrip(".")):
            domains.append(value.lower().rstrip("."))
    return EntrySet(frozenset(names), tuple(networks), tuple(domains))


def validate_all(approved: Mapping[str, ApprovedSenders]) -> None:
    """Raise ConfigError for the first malformed entry of any domain."""
    for domain, entry in approved.items():
        build_matcher(domain, entry)


def _network(text: str, where: str, key: str = "networks") -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(f"{where} {key}: {text!r} is not an IP network (use CIDR, e.g. 192.0.2.0/24)") from None


def _rdns_domain(text: str, where: str) -> str:
    name = text.strip().lower().rstrip(".")
    if not _HOSTNAME.match(name):
        raise ConfigError(
            f"{where} rdns_domains: {text!r} is not a domain name (use the base domain, e.g. sendgrid.net; no wildcards or URLs)"
        )
    return name


def _under(name: str | None, entry: str) -> bool:
    if not name:
        return False
    name = name.lower().rstrip(".")
    return name == entry or name.endswith("." + entry)


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None
