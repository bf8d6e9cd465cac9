"""The IP database (an MMDB file): a small reader of our own for the first lookups, maxminddb's after.

Importing maxminddb costs about 30 ms of CPU (its ``__init__`` reads its own version through
importlib.metadata, which imports email, zipfile and more, and its pure-Python reader imports
multiprocessing): a sixth of a 100-record ingest. The lookups such a run needs take well under a
millisecond here. A run that looks up many IPs (a big report with a distinct one per record) goes on
with maxminddb's C reader, about five times faster a lookup, once it has made ``SWITCH_AFTER``.

The format is MaxMind's "MaxMind DB File Format Specification" 2.0: a binary search tree over the
address bits, a data section of typed values, and a metadata map after a marker at the end of the file.
Both readers give equal values for every address (tested over the bundled database).
"""

from __future__ import annotations

import ipaddress
import mmap
import struct
from typing import Any

__all__ = ["SWITCH_AFTER", "IpDatabase", "MmdbFile"]

SWITCH_AFTER = 2000  # lookups made by our reader before maxminddb's takes over (see the module's docstring)
_MARKER = b"\xab\xcd\xefMaxMind.com"
_METADATA_MAX = 128 * 1024  # the metadata is within this many bytes of the end (the specification's bound)
_DATA_GAP = 16  # zero bytes between the search tree and the data section
_POINTER_BIAS = (0, 2048, 526336, 0)  # added to a pointer's value, by its size class
_MAX_DEPTH = 512  # nested maps and arrays followed, at most: a hostile file must not exhaust the stack


class MmdbFile:
    """One MMDB file read through a read-only memory map: ``get(ip)`` and ``close()``, as maxminddb's Reader.

    ``ip`` must be a valid IPv4 or IPv6 address in text (the enricher checks it first). A file without
    metadata, or with a tree that points outside it, raises ValueError (at open, or at that lookup).
    """

    def __init__(self, path: str) -> None:
        with open(path, "rb") as fh:
            self._buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self._read_metadata()
        except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
            self._buf.close()
            raise ValueError(f"not an MMDB file: {exc}") from None

    def _read_metadata(self) -> None:
        buf = self._buf
        at = buf.rfind(_MARKER, max(0, len(buf) - _METADATA_MAX))
        if at < 0:
            raise ValueError("no metadata marker")
        start = at + len(_MARKER)
        meta, _ = _Decoder(buf, start).decode(start)
        if not isinstance(meta, dict):
            raise ValueError("the metadata is not a map")  # noqa: TRY004 - a damaged file, not a caller's bug
        self.node_count = _count(meta, "node_count")
        self.record_size = _count(meta, "record_size")
        if self.record_size not in (24, 28, 32):
            raise ValueError(f"record size {self.record_size} is not 24, 28 or 32")
        self.ip_version = _count(meta, "ip_version")
        self._node_bytes = self.record_size // 4
        tree_size = self._node_bytes * self.node_count
        if tree_size + _DATA_GAP > at:
            raise ValueError("the search tree is larger than the file")
        self._tree_size = tree_size
        self._data = _Decoder(buf, tree_size + _DATA_GAP)
        self._ipv4_start = self._walk_zeros(96) if self.ip_version == 6 else 0

    def _walk_zeros(self, bits: int) -> int:
        node = 0
        for _ in range(bits):
            if node >= self.node_count:
                break
            node = self._record(node, 0)
        return node

    def _record(self, node: int, bit: int) -> int:
        buf, base = self._buf, node * self._node_bytes
        size = self.record_size
        if size == 24:
            at = base + 3 * bit
            return int.from_bytes(buf[at:at + 3], "big")
        if size == 32:
            at = base + 4 * bit
            return int.from_bytes(buf[at:at + 4], "big")
        middle = buf[base + 3]
        if bit == 0:
            return ((middle & 0xF0) << 20) | int.from_bytes(buf[base:base + 3], "big")
        return ((middle & 0x0F) << 24) | int.from_bytes(buf[base + 4:base + 7], "big")

    def get(self, ip: str) -> Any:
        """The value stored for the network holding ``ip``, or None."""
        number, bits = _address(ip)
        if bits == 128 and self.ip_version == 4:
            raise ValueError(f"cannot look up an IPv6 address ({ip}) in an IPv4-only database")
        node = self._ipv4_start if bits == 32 else 0
        count = self.node_count
        for shift in range(bits - 1, -1, -1):
            if node >= count:
                break
            node = self._record(node, (number >> shift) & 1)
        if node <= count:  # == count: no data for this network; < count: the address ran out first
            return None
        at = self._tree_size + node - count  # the data section's offset is node - count - 16
        if at >= len(self._buf):
            raise ValueError(f"the search tree points outside the file for {ip}")
        value, _ = self._data.decode(at)
        return value

    def close(self) -> None:
        self._buf.close()


def _count(meta: dict[str, Any], key: str) -> int:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"metadata {key} is missing or not a count")
    return value


def _address(ip: str) -> tuple[int, int]:
    """(the address as a number, its bits), IPv4 without building an ipaddress object."""
    if ":" not in ip:
        a, b, c, d = (int(part) for part in ip.split("."))
        return (a << 24) | (b << 16) | (c << 8) | d, 32
    return int(ipaddress.IPv6Address(ip)), 128


class _Decoder:
    """Values of the data section (or the metadata): ``decode(offset)`` -> (value, the offset after it).

    Pointers are offsets from ``base``, followed where they stand; every nesting, a pointer's too, counts
    against ``_MAX_DEPTH``, so a file whose pointers loop ends in ValueError, not in a stack overflow.
    """

    def __init__(self, buf: mmap.mmap, base: int) -> None:
        self._buf, self._base = buf, base

    def decode(self, at: int, depth: int = 0) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise ValueError("values nested too deeply")
        buf = self._buf
        control = buf[at]
        at += 1
        kind = control >> 5
        if kind == 1:
            return self._pointer(control, at, depth)
        if kind == 0:  # extended: the type is 7 + the next byte
            kind = 7 + buf[at]
            at += 1
        size = control & 0x1F
        if size >= 29:
            extra = size - 28
            size = (29, 285, 65821)[extra - 1] + int.from_bytes(buf[at:at + extra], "big")
            at += extra
        return self._value(kind, size, at, depth)

    def _pointer(self, control: int, at: int, depth: int) -> tuple[Any, int]:
        size_class = (control >> 3) & 0x3
        if size_class == 3:
            target = int.from_bytes(self._buf[at:at + 4], "big")
        else:
            target = ((control & 0x7) << (8 * (size_class + 1))) | int.from_bytes(
                self._buf[at:at + size_class + 1], "big")
        value, _ = self.decode(self._base + target + _POINTER_BIAS[size_class], depth + 1)
        return value, at + size_class + 1

    def _value(self, kind: int, size: int, at: int, depth: int) -> tuple[Any, int]:
        buf, end = self._buf, at + size
        if kind == 2:
            return buf[at:end].decode("utf-8"), end
        if kind == 7:
            result: dict[Any, Any] = {}
            for _ in range(size):
                key, at = self.decode(at, depth + 1)
                result[key], at = self.decode(at, depth + 1)
            return result, at
        if kind in (5, 6, 9, 10):  # uint16, uint32, uint64, uint128
            return int.from_bytes(buf[at:end], "big"), end
        if kind == 11:
            items = []
            for _ in range(size):
                item, at = self.decode(at, depth + 1)
                items.append(item)
            return items, at
        return self._scalar(kind, size, at, end)

    def _scalar(self, kind: int, size: int, at: int, end: int) -> tuple[Any, int]:
        buf = self._buf
        if kind == 3 and size == 8:
            return struct.unpack(">d", buf[at:end])[0], end
        if kind == 15 and size == 4:
            return struct.unpack(">f", buf[at:end])[0], end
        if kind == 4:
            return bytes(buf[at:end]), end
        if kind == 8 and size <= 4:  # int32: big-endian, shorter forms padded with zero bytes
            return struct.unpack(">i", buf[at:end].rjust(4, b"\0"))[0], end
        if kind == 14:  # boolean: the value is the size
            return size != 0, at
        raise ValueError(f"a value of type {kind} and size {size} is not valid here")


class IpDatabase:
    """The enricher's IP database: our reader for the first ``switch_after`` lookups, maxminddb's after.

    Anything our reader does not take as a well-formed file or lookup goes to maxminddb's reader at once,
    so that an odd or damaged file gets exactly maxminddb's answers and errors (its open errors as
    ValueError or OSError).
    """

    def __init__(self, path: str, switch_after: int = SWITCH_AFTER) -> None:
        self.path = path
        self._theirs: Any = None
        self._left = switch_after
        try:
            self._ours: MmdbFile | None = MmdbFile(path)
        except (OSError, ValueError):
            self._ours = None
            self._switch()

    def get(self, ip: str) -> Any:
        if self._ours is not None:
            self._left -= 1
            if self._left >= 0:
                try:
                    return self._ours.get(ip)
                except (ValueError, IndexError, struct.error):
                    pass  # maxminddb's reader says what it makes of it
            self._switch()
        return self._theirs.get(ip)

    @property
    def switched(self) -> bool:
        """Whether maxminddb's reader answers now."""
        return self._ours is None

    def _switch(self) -> None:
        import maxminddb  # here: see the module's docstring

        try:
            self._theirs = maxminddb.open_database(self.path)
        except maxminddb.InvalidDatabaseError as exc:
            raise ValueError(str(exc)) from None
        finally:
            if self._ours is not None:
                self._ours.close()
                self._ours = None

    def close(self) -> None:
        if self._ours is not None:
            self._ours.close()
        if self._theirs is not None:
            self._theirs.close()
