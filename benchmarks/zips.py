"""Zip archives written byte by byte, for shapes zipfile refuses to write.

Real reporters send members without a name (zips written from a stream); attackers send members
whose data overlap, or local headers that disagree with the central directory. The tests, the
sample writer and the hostile-shapes benchmark build them here.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14


@dataclass(frozen=True)
class Entry:
    name: bytes
    data: bytes  # the member's content, uncompressed
    method: int = DEFLATED
    local_name: bytes | None = None  # a different name in the local header (a mismatch)
    payload: bytes | None = None  # the compressed bytes as stored, when not made from data
    flags: int = 0


def _compress(entry: Entry) -> bytes:
    if entry.payload is not None:
        return entry.payload
    if entry.method == STORED:
        return entry.data
    if entry.method == DEFLATED:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(entry.data) + c.flush()
    raise ValueError(f"give the payload for method {entry.method}")


def raw_zip(entries: list[Entry], comment: bytes = b"") -> bytes:
    """A zip archive with exactly these entries, one local header each, in order."""
    out = bytearray()
    central = bytearray()
    for entry in entries:
        payload = _compress(entry)
        crc = zlib.crc32(entry.data)
        local_name = entry.name if entry.local_name is None else entry.local_name
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, entry.flags, entry.method, 0, 0x21,
                           crc, len(payload), len(entry.data), len(local_name), 0) + local_name + payload
        central += _central(entry.name, entry.method, entry.flags, crc, len(payload), len(entry.data), offset)
    return bytes(out) + _directory(central, len(entries), len(out), comment)


def overlapping_zip(data: bytes, count: int) -> bytes:
    """One member's data, listed ``count`` times in the central directory (all entries overlap)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = c.compress(data) + c.flush()
    crc = zlib.crc32(data)
    out = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, DEFLATED, 0, 0x21, crc, len(payload), len(data), 5, 0)
    out += b"a.xml" + payload
    central = bytearray()
    for i in range(count):
        central += _central(b"a.xml" if i == 0 else f"{i}.xml".encode(), DEFLATED, 0, crc, len(payload), len(data), 0)
    return out + _directory(central, count, len(out), b"")


def _central(name: bytes, method: int, flags: int, crc: int, csize: int, size: int, offset: int) -> bytes:
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, csize, size,
                       len(name), 0, 0, 0, 0, 0, offset) + name


def _directory(central: bytes | bytearray, count: int, offset: int, comment: bytes) -> bytes:
    count = min(count, 0xFFFF)  # more entries need zip64, whose marker is this value
    return bytes(central) + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), offset,
                                        len(comment)) + comment
