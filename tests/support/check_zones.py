"""Zones with known defects for `dmarcflow check`, and the findings each one must give (no more, no less).

Every domain starts from a healthy set of records (DMARC p=reject with rua, SPF ending in -all, MTA-STS,
TLS-RPT) and changes one thing. The DKIM keys are for the selectors the sample reports of example.net use
(and one hand-written report of keys.test), so that `check` links them to the stored reports.
"""

from __future__ import annotations

import base64
import random

Records = dict[str, list[tuple[str, str]]]


def der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        head = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        head = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return bytes([tag]) + head + content


def _integer(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")  # a leading zero keeps it positive
    return der(0x02, raw)


def rsa_key(bits: int, seed: int) -> str:
    """A base64 SubjectPublicKeyInfo of an RSA public key with a modulus of exactly ``bits`` bits."""
    modulus = random.Random(seed).getrandbits(bits) | (1 << (bits - 1)) | 1
    rsa_public_key = der(0x30, _integer(modulus) + _integer(65537))
    algorithm = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + der(0x05, b""))
    return base64.b64encode(der(0x30, algorithm + der(0x03, b"\x00" + rsa_public_key))).decode()


def healthy(domain: str, **override: str | None) -> Records:
    """The records of a domain with nothing to report; ``override`` replaces (or, with None, drops) one."""
    base = {
        f"_dmarc.{domain}": f"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}",
        domain: "v=spf1 ip4:192.0.2.0/24 -all",
        f"_mta-sts.{domain}": "v=STSv1; id=20260301",
        f"_smtp._tls.{domain}": f"v=TLSRPTv1; rua=mailto:tls@{domain}",
    }
    for name, value in override.items():
        key = name.replace("DOMAIN", domain)
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return {name: [("TXT", text)] for name, text in base.items()}


def merge(*parts: Records) -> Records:
    out: Records = {}
    for part in parts:
        for name, records in part.items():
            out.setdefault(name, []).extend(records)
    return out


def _chain(prefix: str, length: int) -> Records:
    """include:{prefix}1 ... each including the next, the last one with an ip4 term: `length` lookups."""
    out: Records = {}
    for i in range(1, length + 1):
        tail = f"include:{prefix}{i + 1}.chain.test" if i < length else "ip4:198.51.100.0/24"
        out[f"{prefix}{i}.chain.test"] = [("TXT", f"v=spf1 {tail} -all")]
    return out


def zones() -> Records:
    d = "DOMAIN"
    return merge(
        healthy("good.test"),
        {"default._bimi.good.test": [("TXT", "v=BIMI1; l=https://good.test/logo.svg")]},
        healthy("nodmarc.test", **{f"_dmarc.{d}": None}),
        healthy("multi.test"), {"_dmarc.multi.test": [("TXT", "v=DMARC1; p=none; rua=mailto:d@multi.test")]},
        healthy("syntax.test", **{f"_dmarc.{d}": "v=DMARC1; p=reject; adkim=x; rua=mailto:dmarc@syntax.test"}),
        healthy("nop.test", **{f"_dmarc.{d}": "v=DMARC1; rua=mailto:dmarc@nop.test"}),
        healthy("none.test", **{f"_dmarc.{d}": "v=DMARC1; p=none; rua=mailto:dmarc@none.test"}),
        healthy("testing.test", **{f"_dmarc.{d}": "v=DMARC1; p=reject; t=y; rua=mailto:dmarc@testing.test"}),
        healthy("pct.test", **{f"_dmarc.{d}": "v=DMARC1; p=reject; pct=50; rua=mailto:dmarc@pct.test"}),
        healthy("typo.test", **{f"_dmarc.{d}": "v=DMARC1; p=reject; adkin=s; rua=mailto:dmarc@typo.test"}),
        healthy("norua.test", **{f"_dmarc.{d}": "v=DMARC1; p=reject"}),
        healthy("extrua.test", **{f"_dmarc.{d}": "v=DMARC1; p=reject; rua=mailto:dmarc@reports.test,"
                                                 "mailto:agg@other.test; ruf=mailto:f@reports.test"}),
        {"extrua.test._report._dmarc.reports.test": [("TXT", "v=DMARC1")]},
        healthy("parent.test"), healthy("mail.parent.test", **{f"_dmarc.{d}": None}),
        healthy("nospf.test", **{d: None}),
        healthy("twospf.test"), {"twospf.test": [("TXT", "v=spf1 ip4:198.51.100.0/24 -all")]},
        healthy("spfsyntax.test", **{d: "v=spf1 ip4:192.0.2.300 -all"}),
        _chain("c", 10),
        healthy("ten.test", **{d: "v=spf1 include:c1.chain.test -all"}),
        healthy("eleven.test", **{d: "v=spf1 include:c1.chain.test a -all"}), {"eleven.test": [("A", "192.0.2.1")]},
        healthy("twovoid.test", **{d: "v=spf1 a:gone1.twovoid.test mx:gone2.twovoid.test ip4:192.0.2.0/24 -all"}),
        healthy("void.test", **{d: "v=spf1 a:gone1.void.test a:gone2.void.test exists:gone3.void.test -all"}),
        healthy("plusall.test", **{d: "v=spf1 ip4:192.0.2.0/24 +all"}),
        healthy("noall.test", **{d: "v=spf1 ip4:192.0.2.0/24"}),
        healthy("ptr.test", **{d: "v=spf1 ptr:ptr.test -all"}),
        healthy("badinclude.test", **{d: "v=spf1 include:missing.test ip4:192.0.2.0/24 -all"}),
        healthy("redir.test", **{d: "v=spf1 redirect=_spf.redir.test"}),
        {"_spf.redir.test": [("TXT", "v=spf1 ip4:198.51.100.0/24 -all")]},
        healthy("slowdmarc.test"),
        healthy("servfail.test"),
        healthy("nosts.test", **{f"_mta-sts.{d}": None}),
        healthy("badsts.test", **{f"_mta-sts.{d}": "v=STSv1; id="}),
        healthy("notls.test", **{f"_smtp._tls.{d}": None}),
        healthy("badtls.test", **{f"_smtp._tls.{d}": "v=TLSRPTv1; rua=ftp://tls.badtls.test"}),
        # Linked to the sample reports of example.net: DKIM selectors google and s2026 of example.net and of
        # shop.example.net; no source there relies on SPF alone.
        healthy("example.net", **{d: "v=spf1 include:_spf.google.test -all"}),
        healthy("shop.example.net", **{f"_dmarc.{d}": None}),
        {"_spf.google.test": [("TXT", "v=spf1 ip4:209.85.128.0/17 -all")]},
        {"s2026._domainkey.example.net": [("TXT", f"v=DKIM1; k=rsa; p={rsa_key(2048, 1)}")],
         "google._domainkey.example.net": [("TXT", f"v=DKIM1; k=rsa; p={rsa_key(512, 2)}")],
         "s2026._domainkey.shop.example.net": [("TXT", "v=DKIM1; k=rsa; p=not*base64")]},
        # keys.test: one hand-written report (tests/check/test_check_zones.py) with selector s1 (revoked
        # key), an SPF-only authorised sender inside the record and an approved one outside it.
        healthy("keys.test", **{d: "v=spf1 ip4:198.51.100.0/24 -all"}),
        {"s1._domainkey.keys.test": [("TXT", "v=DKIM1; k=rsa; p=")]},
    )


TIMEOUT = {"_dmarc.slowdmarc.test"}
SERVFAIL = {"servfail.test"}

# domain -> the (code, DNS name) of every finding `check` must report, errors first, in discovery order.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "good.test": [],
    "nodmarc.test": [("dmarc_missing", "_dmarc.nodmarc.test")],
    "multi.test": [("dmarc_multiple", "_dmarc.multi.test")],
    "syntax.test": [("dmarc_syntax", "_dmarc.syntax.test")],
    "nop.test": [("dmarc_p_missing", "_dmarc.nop.test")],
    "none.test": [("dmarc_policy_none", "_dmarc.none.test")],
    "testing.test": [("dmarc_testing", "_dmarc.testing.test")],
    "pct.test": [("dmarc_obsolete_tag", "_dmarc.pct.test")],
    "typo.test": [("dmarc_unknown_tag", "_dmarc.typo.test")],
    "norua.test": [("dmarc_rua_missing", "_dmarc.norua.test")],
    "extrua.test": [("dmarc_external_rua_unauthorised", "extrua.test._report._dmarc.other.test")],
    "mail.parent.test": [],
    "nospf.test": [("spf_missing", "nospf.test")],
    "twospf.test": [("spf_multiple", "twospf.test")],
    "spfsyntax.test": [("spf_syntax", "spfsyntax.test")],
    "ten.test": [],
    "eleven.test": [("spf_too_many_lookups", "eleven.test")],
    "twovoid.test": [],
    "void.test": [("spf_too_many_void_lookups", "void.test")],
    "plusall.test": [("spf_permissive_all", "plusall.test")],
    "noall.test": [("spf_permissive_all", "noall.test")],
    "ptr.test": [("spf_ptr", "ptr.test")],
    "badinclude.test": [("spf_include_broken", "missing.test")],
    "redir.test": [],
    "slowdmarc.test": [("dns_unreachable", "_dmarc.slowdmarc.test")],
    "servfail.test": [("dns_unreachable", "servfail.test")],
    "nosts.test": [("mta_sts_missing", "_mta-sts.nosts.test")],
    "badsts.test": [("mta_sts_invalid", "_mta-sts.badsts.test")],
    "notls.test": [("tlsrpt_missing", "_smtp._tls.notls.test")],
    "badtls.test": [("tlsrpt_invalid", "_smtp._tls.badtls.test")],
    "example.net": [("dkim_key_weak", "google._domainkey.example.net"),
                    ("dkim_key_missing", "google._domainkey.shop.example.net"),
                    ("dkim_key_invalid", "s2026._domainkey.shop.example.net")],
    "keys.test": [("spf_unauthorised_source", "keys.test"), ("dkim_key_revoked", "s1._domainkey.keys.test")],
}
