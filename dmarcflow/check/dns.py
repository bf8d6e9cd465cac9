"""The DNS client of `dmarcflow check`: dnspython against the configured resolver, answers cached per run.

Every lookup has exactly one outcome: ``ok`` (records), ``nxdomain``, ``nodata``
(the name exists without records of that type), ``unreachable`` (timeout,
SERVFAIL or refusal: becomes a ``dns_unreachable`` finding) or ``invalid`` (a
name that cannot be asked, e.g. a 64-character label from a forged report).
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from dmarcflow.config import DnsSettings, parse_nameserver

STATUSES = ("ok", "nxdomain", "nodata", "unreachable", "invalid")


@dataclass(frozen=True)
class Answer:
    name: str
    rdtype: str
    status: str
    records: tuple[str, ...] = ()  # TXT: each record's strings joined; A/AAAA: addresses; MX: hosts by preference
    error: str | None = None  # why it is unreachable or invalid

    @property
    def void(self) -> bool:
        """An RFC 7208 "void lookup": no records, or no such name."""
        return self.status in ("nxdomain", "nodata")

    @property
    def unreachable(self) -> bool:
        return self.status == "unreachable"


class DnsClient:
    """Asks one resolver; each (name, type) is asked once per client."""

    def __init__(self, settings: DnsSettings, nameservers: tuple[str, ...] = ()) -> None:
        servers = nameservers or settings.nameservers
        resolver = dns.resolver.Resolver(configure=not servers)
        if servers:
            resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(s)) for s in servers]
        resolver.timeout = settings.timeout
        resolver.lifetime = settings.timeout
        self._resolver = resolver
        self._cache: dict[tuple[str, str], Answer] = {}

    @property
    def queries(self) -> int:
        return len(self._cache)

    def txt(self, name: str) -> Answer:
        return self.query(name, "TXT")

    def query(self, name: str, rdtype: str) -> Answer:
        key = (name.lower().rstrip("."), rdtype)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._ask(*key)
        return found

    def _ask(self, name: str, rdtype: str) -> Answer:
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, ValueError) as exc:
            return Answer(name, rdtype, "invalid", error=str(exc) or type(exc).__name__)
        try:
            answer = self._resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=True)
        except dns.resolver.NXDOMAIN:
            return Answer(name, rdtype, "nxdomain")
        except dns.resolver.NoAnswer:
            return Answer(name, rdtype, "nodata")
        except dns.exception.Timeout:
            return Answer(name, rdtype, "unreachable", error="timed out")
        except dns.resolver.NoNameservers:
            return Answer(name, rdtype, "unreachable", error="the resolver answered SERVFAIL or refused")
        except dns.exception.DNSException as exc:
            return Answer(name, rdtype, "unreachable", error=str(exc) or type(exc).__name__)
        return Answer(name, rdtype, "ok", tuple(_texts(answer, rdtype)))


def _texts(answer: dns.resolver.Answer, rdtype: str) -> list[str]:
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    if rdtype == "MX":
        ranked = sorted(answer, key=lambda r: (r.preference, r.exchange.to_text()))
        return [r.exchange.to_text().rstrip(".").lower() for r in ranked]
    if rdtype == "PTR":
        return [r.target.to_text().rstrip(".").lower() for r in answer]
    return [r.to_text() for r in answer]
