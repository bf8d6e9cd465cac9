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
