"""Record readers without DNS: the DMARCbis tree walk order, DKIM keys, tag lists, nameserver addresses."""

from __future__ import annotations

import base64

import pytest

from dmarcflow.check.dkim import read_key, rsa_bits
from dmarcflow.check.dmarc import walk_names
from dmarcflow.check.tags import parse_tags
from dmarcflow.config import parse_nameserver
from tests.support.check_zones import der, rsa_key


def test_the_tree_walk_asks_at_most_eight_names():
    assert walk_names("example.com") == ["example.com", "com"]
    assert walk_names("a.b.mail.example.com") == ["a.b.mail.example.com", "b.mail.example.com", "mail.example.com",
                                                  "example.com", "com"]
    long = "a.b.c.d.e.f.g.h.i.example.com"  # 11 labels: jump to the last 7, then one label at a time
    assert walk_names(long) == [long, "e.f.g.h.i.example.com",
                                "f.g.h.i.example.com", "g.h.i.example.com", "h.i.example.com", "i.example.com",
                                "example.com", "com"]


@pytest.mark.parametrize("bits", [512, 1023, 1024, 2048, 4096])
def test_rsa_key_sizes(bits):
    key = read_key(f"v=DKIM1; k=rsa; p={rsa_key(bits, bits)}")
    assert (key.status, key.key_type, key.bits) == ("weak" if bits < 1024 else "ok", "rsa", bits)


def test_a_bare_pkcs1_key_is_read_too():
    modulus = (1 << 2047) | 12345
    body = der(0x02, b"\x00" + modulus.to_bytes(256, "big")) + der(0x02, (65537).to_bytes(3, "big"))
    assert rsa_bits(der(0x30, body)) == 2048


@pytest.mark.parametrize("text, status, problem", [
    ("v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(32)).decode(), "ok", None),
    ("v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(31)).decode(), "invalid", "an ed25519 key has 32 bytes"),
    ("v=DKIM1; p=", "revoked", None),
    ("v=DKIM1; k=rsa", "invalid", "it has no p= tag"),
    ("v=DKIM1; k=dsa; p=AAAA", "invalid", "k=dsa is not a DKIM key type (rsa or ed25519)"),
    ("v=DKIM1; p=AAAA", "invalid", "p= does not hold an RSA public key"),
    ("k=rsa; v=DKIM1; p=AAAA", "invalid", "v= must be DKIM1 and come first"),
    ("v=DKIM1; p=***", "invalid", "p= is not base64"),
])
def test_dkim_key_records(text, status, problem):
    key = read_key(text)
    assert (key.status, key.problem) == (status, problem)


def test_tag_lists():
    tags = parse_tags(" v = DMARC1 ;p=reject; ; rua=mailto:a@example.com;p=none;junk ")
    assert tags.tags == (("v", "DMARC1"), ("p", "reject"), ("rua", "mailto:a@example.com"))
    assert tags.problems == ("the tag p appears more than once", "'junk' is not a name=value tag")


@pytest.mark.parametrize("text, expected", [
    ("192.0.2.53", ("192.0.2.53", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("::1", ("::1", 53)),
    ("[2001:db8::1]:5300", ("2001:db8::1", 5300)), ("[::1]", ("::1", 53)),
])
def test_nameserver_addresses(text, expected):
    assert parse_nameserver(text) == expected
