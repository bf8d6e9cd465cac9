"""A small MMDB file writer for tests: every value type, every pointer size, 24/28/32-bit records, IPv4 and
IPv6 trees (MaxMind DB format 2.0), so that dmarcflow.ip_database is compared with maxminddb on all of it."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

MARKER = b"\xab\xcd\xefMaxMind.com"


@dataclass(frozen=True)
class Typed:
    """A value with an explicit MMDB type: 5 uint16, 6 uint32, 8 int32, 9 uint64, 10 uint128, 15 float."""

    kind: int
    value: Any
    width: int | None = None  # bytes to write (shorter forms are allowed for integers)


@dataclass(frozen=True)
class Pointer:
    target: int  # an offset in the data section
    size_class: int  # 0-3


def _control(kind: int, size: int) -> bytes:
    if size < 29:
        head, extra = size, b""
    elif size < 285:
        head, extra = 29, bytes([size - 29])
    elif size < 65821:
        head, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        head, extra = 31, (size - 65821).to_bytes(3, "big")
    if kind <= 7:
        return bytes([(kind << 5) | head]) + extra
    return bytes([head, kind - 7]) + extra


def _uint(kind: int, value: int, width: int | None) -> bytes:
    n = width if width is not None else (value.bit_length() + 7) // 8
    return _control(kind, n) + value.to_bytes(n, "big")


def encode(value: Any) -> bytes:
    if isinstance(value, Pointer):
        bias = (0, 2048, 526336, 0)[value.size_class]
        p = value.target - bias
        if value.size_class == 3:
            return bytes([(1 << 5) | (3 << 3)]) + p.to_bytes(4, "big")
        n = value.size_class + 1
        return bytes([(1 << 5) | (value.size_class << 3) | (p >> (8 * n))]) + (p & ((1 << (8 * n)) - 1)).to_bytes(n, "big")
    if isinstance(value, Typed):
        if value.kind == 15:
            return _control(15, 4) + struct.pack(">f", value.value)
        if value.kind == 8:
            raw = struct.pack(">i", value.value)
            n = value.width or 4
            return _control(8, n) + raw[4 - n:]
        return _uint(value.kind, value.value, value.width)
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _control(4, len(value)) + value
    if isinstance(value, int):
        return _uint(6, value, None)
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(type(value))


def _node_bytes(left: int, right: int, record_size: int) -> bytes:
    if record_size == 24:
        return left.to_bytes(3, "big") + right.to_bytes(3, "big")
    if record_size == 32:
        return left.to_bytes(4, "big") + right.to_bytes(4, "big")
    middle = ((left >> 24) << 4) | (right >> 24)
    return (left & 0xFFFFFF).to_bytes(3, "big") + bytes([middle]) + (right & 0xFFFFFF).to_bytes(3, "big")


def build(networks: list[tuple[int, int, int]], data: bytes, *, ip_version: int, record_size: int) -> bytes:
    """An MMDB file: ``networks`` are (address as a number, prefix length, offset of its value in ``data``),
    addresses of the tree's width (128 bits for ip_version 6: an IPv4 network is ::a.b.c.d/96+n)."""
    width = 128 if ip_version == 6 else 32
    nodes: list[list[int | tuple[str, int] | None]] = [[None, None]]
    for number, prefix, offset in networks:
        node = 0
        for i in range(prefix):
            bit = (number >> (width - 1 - i)) & 1
            if i == prefix - 1:
                nodes[node][bit] = ("data", offset)
            else:
                child = nodes[node][bit]
                if not isinstance(child, int):
                    nodes.append([None, None])
                    child = nodes[node][bit] = len(nodes) - 1
                node = child
    count = len(nodes)

    def value(record: int | tuple[str, int] | None) -> int:
        if record is None:
            return count
        if isinstance(record, tuple):
            return count + 16 + record[1]
        return record

    tree = b"".join(_node_bytes(value(left), value(right), record_size) for left, right in nodes)
    meta = {"node_count": Typed(6, count), "record_size": Typed(5, record_size), "ip_version": Typed(5, ip_version),
            "database_type": "dmarcflow-test", "languages": ["en"], "binary_format_major_version": Typed(5, 2),
            "binary_format_minor_version": Typed(5, 0), "build_epoch": Typed(9, 1_700_000_000),
            "description": {"en": "test database"}}
    return tree + b"\0" * 16 + data + MARKER + encode(meta)
