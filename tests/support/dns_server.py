"""A real DNS server on loopback (dnslib) that answers PTR queries from a fixed table.

Tests have no internet; this stands in for the resolvers reverse DNS would use.
"""

from __future__ import annotations

import socket

from dnslib import PTR, QTYPE, RR
from dnslib.server import BaseResolver, DNSServer


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PtrTable(BaseResolver):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = {f"{name}." if not name.endswith(".") else name: value for name, value in names.items()}
        self.queries: list[str] = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname)
        self.queries.append(qname)
        if request.q.qtype == QTYPE.PTR and qname in self.names:
            reply.add_answer(RR(qname, QTYPE.PTR, rdata=PTR(self.names[qname]), ttl=60))
        else:
            reply.header.rcode = 3  # NXDOMAIN
        return reply


class PtrServer:
    """`PtrServer({"10.2.0.192.in-addr.arpa": "mx1.example.com."})`, started on 127.0.0.1."""

    def __init__(self, names: dict[str, str]) -> None:
        self.table = _PtrTable(names)
        self.port = free_udp_port()
        self._server = DNSServer(self.table, port=self.port, address="127.0.0.1")

    def __enter__(self) -> "PtrServer":
        self._server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


# ------------------------------------------------------------------ zones for `dmarcflow check`


def _quiet() -> "DNSLogger":
    from dnslib.server import DNSLogger

    return DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False, logf=lambda *a: None)


def _rdata(rtype: str, value: str):
    from dnslib import AAAA, CNAME, MX, TXT, A

    if rtype == "TXT":
        raw = value.encode()
        return TXT([raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""])
    if rtype == "MX":
        preference, host = value.split()
        return MX(host, int(preference))
    return {"A": A, "AAAA": AAAA, "CNAME": CNAME, "PTR": PTR}[rtype](value)


class _Zones(BaseResolver):
    """Answers from a table of records; some names never answer (a timeout), some answer SERVFAIL."""

    def __init__(self, records: dict[str, list[tuple[str, str]]], timeout: set[str], servfail: set[str]) -> None:
        self.records = {name.lower().rstrip("."): list(rrs) for name, rrs in records.items()}
        self.timeout = {n.lower().rstrip(".") for n in timeout}
        self.servfail = {n.lower().rstrip(".") for n in servfail}
        self.queries: list[tuple[str, str]] = []

    def _exists(self, name: str) -> bool:
        """A name with records, or an empty non-terminal above one (NOERROR without data, not NXDOMAIN)."""
        return name in self.records or any(other.endswith("." + name) for other in self.records)

    def resolve(self, request, handler):
        from dnslib import DNSError

        reply = request.reply()
        qname = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        if qname in self.timeout:
            raise DNSError(f"dropped on purpose: {qname}")  # the handler then sends nothing
        if qname in self.servfail:
            reply.header.rcode = 2
            return reply
        name = qname
        for _ in range(8):  # follow CNAMEs inside the table, as a recursive resolver would
            cname = [v for t, v in self.records.get(name, []) if t == "CNAME"]
            if not cname or qtype == "CNAME":
                break
            reply.add_answer(RR(name + ".", QTYPE.CNAME, rdata=_rdata("CNAME", cname[0]), ttl=60))
            name = cname[0].lower().rstrip(".")
        for rtype, value in self.records.get(name, []):
            if rtype == qtype:
                reply.add_answer(RR(name + ".", getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=60))
        if not reply.rr and not self._exists(name):
            reply.header.rcode = 3  # NXDOMAIN
        return reply


class ZoneServer:
    """A DNS server on 127.0.0.1 (UDP and TCP, one port) answering from a table of records.

    ``ZoneServer({"example.com": [("TXT", "v=spf1 -all")]}, timeout={"slow.example"}, servfail={"bad.example"})``
    """

    def __init__(self, records: dict[str, list[tuple[str, str]]], *, timeout: set[str] = frozenset(),
                 servfail: set[str] = frozenset()) -> None:
        self.zones = _Zones(records, set(timeout), set(servfail))
        for _ in range(20):
            self.port = free_udp_port()
            try:
                self._udp = DNSServer(self.zones, port=self.port, address="127.0.0.1", logger=_quiet())
                self._tcp = DNSServer(self.zones, port=self.port, address="127.0.0.1", tcp=True, logger=_quiet())
                break
            except OSError:  # the TCP port of that number was taken
                continue
        else:
            raise RuntimeError("no free port for the test DNS server")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "ZoneServer":
        self._udp.start_thread()
        self._tcp.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self._udp.stop()
        self._tcp.stop()
