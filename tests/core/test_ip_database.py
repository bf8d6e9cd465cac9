"""dmarcflow.ip_database against maxminddb (the reference reader): equal values for every address, every value
type, every pointer size, each record size and tree; the switch to maxminddb's reader; damaged files."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import maxminddb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmarcflow.enrich import default_ip_db
from dmarcflow.ip_database import IpDatabase, MmdbFile
from tests.support.mmdb_writer import Pointer, Typed, build, encode

SHARED, MID, FAR = "shared value", "past 2,048 bytes", "past 526,336 bytes"


def _data() -> tuple[bytes, list[int]]:
    """A data section: strings reachable by each pointer size, then the values the networks point to."""
    data = encode(SHARED)
    mid_at = len(data) + len(encode("x" * 3000))
    data += encode("x" * 3000) + encode(MID)
    far_at = len(data) + len(encode("y" * 530_000))
    data += encode("y" * 530_000) + encode(FAR)
    every_type = {
        "string": "text", "long string": "é" * 200, "longer string": "z" * 70_000, "uint16": Typed(5, 65535),
        "uint32": Typed(6, 2**32 - 1), "uint32 short": Typed(6, 7, 1), "uint64": Typed(9, 2**64 - 1),
        "uint128": Typed(10, 2**128 - 1), "int32": Typed(8, -5), "int32 short": Typed(8, 7, 1),
        "double": -1.5e300, "float": Typed(15, 0.25), "bytes": b"\x00\xff", "true": True, "false": False,
        "array": [1, "a", [2.5, {"k": "v"}]], "nested": {"a": {"b": {"c": "d"}}}, "empty map": {}, "empty": [],
        "p0": Pointer(0, 0), "p1": Pointer(mid_at, 1), "p2": Pointer(far_at, 2), "p3": Pointer(0, 3),
    }
    offsets = [len(data)]
    data += encode(every_type)
    offsets.append(len(data))
    data += encode({"country_code": "NL", "asn": "AS1136", "shared": Pointer(0, 0)})
    offsets.append(len(data))
    data += encode("a bare string")
    return data, offsets


@pytest.fixture(scope="module", params=[(4, 24), (4, 28), (4, 32), (6, 24), (6, 28), (6, 32)],
                ids=lambda p: f"ipv{p[0]}-{p[1]}bit")
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    ip_version, record_size = request.param
    data, (first, second, third) = _data()
    zeros = 96 if ip_version == 6 else 0  # an IPv4 network in an IPv6 tree is ::a.b.c.d/(96 + n)
    networks = [(int(ipaddress.IPv4Address("10.0.0.0")), 8 + zeros, first),
                (int(ipaddress.IPv4Address("192.168.1.0")), 24 + zeros, second),
                (int(ipaddress.IPv4Address("255.255.255.255")), 32 + zeros, third)]
    if ip_version == 6:
        networks.append((int(ipaddress.IPv6Address("2001:db8::")), 32, second))
    path = tmp_path_factory.mktemp("mmdb") / f"test-{ip_version}-{record_size}.mmdb"
    path.write_bytes(build(networks, data, ip_version=ip_version, record_size=record_size))
    return path, ip_version


LOOKUPS = ["10.0.0.0", "10.255.255.255", "10.1.2.3", "11.0.0.0", "9.255.255.255", "192.168.1.77", "192.168.2.1",
           "255.255.255.255", "255.255.255.254", "0.0.0.0", "1.2.3.4"]
LOOKUPS6 = ["2001:db8::1", "2001:db8:ffff::", "2001:db9::", "::", "::10.1.2.3", "::ffff:10.1.2.3", "fe80::1"]


def test_every_value_type_and_pointer_size_reads_as_maxminddb_reads_it(made: tuple[Path, int]) -> None:
    path, ip_version = made
    ours, theirs = MmdbFile(str(path)), maxminddb.open_database(str(path))
    try:
        for ip in LOOKUPS + (LOOKUPS6 if ip_version == 6 else []):
            assert (ip, ours.get(ip)) == (ip, theirs.get(ip))
        value = ours.get("10.9.9.9")
        assert (value["p0"], value["p1"], value["p2"], value["p3"]) == (SHARED, MID, FAR, SHARED)
        assert (value["int32"], value["uint128"], value["float"], value["true"]) == (-5, 2**128 - 1, 0.25, True)
        assert ours.get("11.0.0.0") is None
        if ip_version == 4:
            with pytest.raises(ValueError, match="IPv6 address"):
                ours.get("2001:db8::1")
            with pytest.raises(ValueError):
                theirs.get("2001:db8::1")
    finally:
        ours.close()
        theirs.close()


@pytest.fixture(scope="module")
def bundled() -> tuple[MmdbFile, maxminddb.Reader]:
    path = str(default_ip_db())
    return MmdbFile(path), maxminddb.open_database(path)


@settings(max_examples=400, deadline=None)
@given(number=st.integers(0, 2**32 - 1))
def test_every_ipv4_address_reads_as_maxminddb_reads_it_in_the_bundled_database(
        bundled: tuple[MmdbFile, maxminddb.Reader], number: int) -> None:
    ip = str(ipaddress.IPv4Address(number))
    assert bundled[0].get(ip) == bundled[1].get(ip)


@settings(max_examples=300, deadline=None)
@given(number=st.one_of(st.integers(0, 2**128 - 1), st.integers(0x2000 << 112, (0x3000 << 112) - 1)))
def test_every_ipv6_address_reads_as_maxminddb_reads_it_in_the_bundled_database(
        bundled: tuple[MmdbFile, maxminddb.Reader], number: int) -> None:
    ip = str(ipaddress.IPv6Address(number))
    assert bundled[0].get(ip) == bundled[1].get(ip)


def test_well_known_addresses_in_the_bundled_database(bundled: tuple[MmdbFile, maxminddb.Reader]) -> None:
    assert bundled[0].get("8.8.8.8") == bundled[1].get("8.8.8.8")
    assert bundled[0].get("8.8.8.8")["asn"] == "AS15169"
    assert bundled[0].get("127.0.0.1") == bundled[1].get("127.0.0.1")


def test_the_database_switches_to_maxminddb_after_its_lookups_with_the_same_answers(made: tuple[Path, int]) -> None:
    path, _ = made
    db = IpDatabase(str(path), switch_after=3)
    try:
        answers = []
        for ip in ["10.1.1.1", "192.168.1.1", "11.0.0.0", "10.1.1.1", "192.168.1.1"]:
            answers.append((db.get(ip), db.switched))
    finally:
        db.close()
    assert [switched for _, switched in answers] == [False, False, False, True, True]
    assert answers[3][0] == answers[0][0] and answers[4][0] == answers[1][0]
    assert answers[2][0] is None


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100, b"\xab\xcd\xefMaxMind.com\xe0 a marker, then no metadata"])
def test_a_file_that_is_no_database_fails_with_maxminddbs_own_words(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mmdb"
    path.write_bytes(content)
    with pytest.raises(Exception) as theirs:
        maxminddb.open_database(str(path))
    with pytest.raises(ValueError) as ours:
        IpDatabase(str(path))
    assert str(ours.value) == str(theirs.value)


def test_a_tree_pointing_outside_the_file_goes_to_maxminddb(made: tuple[Path, int], tmp_path: Path) -> None:
    """A lookup our reader cannot make sense of is maxminddb's to answer (here: its error), not a silent None."""
    path, _ = made
    data = bytearray(path.read_bytes())
    data[0:6] = b"\xff" * 6  # the root's records point far past the end (24-bit: both; 28/32-bit: the left)
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        MmdbFile(str(broken)).get("1.2.3.4")
    db = IpDatabase(str(broken))
    try:
        with pytest.raises(maxminddb.InvalidDatabaseError):
            db.get("1.2.3.4")
        assert db.switched
    finally:
        db.close()
