"""DKIM keys: for each (signing domain, selector) the reports show, the key record at
``<selector>._domainkey.<domain>`` exists, is a valid key, and an RSA key has at least 1024 bits.

RSA keys are read from their DER (SubjectPublicKeyInfo, or a bare RSAPublicKey)
with a small parser of our own: only the modulus length is needed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from dmarcflow.check.codes import finding
from dmarcflow.check.dns import DnsClient
from dmarcflow.check.tags import parse_tags, unreachable
from dmarcflow.models import Finding

MIN_BITS = 1024  # RFC 8301: verifiers must not accept shorter RSA keys
_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1


@dataclass(frozen=True)
class Selector:
    """A (signing domain, selector) pair seen in the reports, with what the reports say about it."""

    domain: str
    selector: str
    messages: int
    passed: bool  # some receiver verified a signature with it

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


@dataclass(frozen=True)
class Key:
    status: str  # ok | missing | invalid | weak | revoked | unreachable
    key_type: str | None = None
    bits: int | None = None
    problem: str | None = None


def check_selector(dns: DnsClient, sel: Selector) -> tuple[dict[str, Any], list[Finding]]:
    answer = dns.txt(sel.name)
    record: dict[str, Any] = {"domain": sel.domain, "selector": sel.selector, "name": sel.name,
                              "messages": sel.messages, "record": None}
    if answer.unreachable:
        record["status"] = "unreachable"
        return record, [unreachable(answer, f"the DKIM key of selector {sel.selector}")]
    texts = [t for t in answer.records if _is_key_record(t)]
    if not texts:
        record["status"] = "missing"
        return record, [finding(
            "dkim_key_missing", f"no DKIM key at {sel.name}, though {sel.messages:,} reported message(s) were signed "
            f"with selector {sel.selector} of {sel.domain}", f"publish the public key of selector {sel.selector} at "
            f"{sel.name} (the TXT or CNAME record the signing service or server gives), or stop signing with it",
            sel.name, selector=sel.selector, messages=sel.messages)]
    record["record"] = texts[0]
    key = read_key(texts[0])
    record.update(status=key.status, key_type=key.key_type, bits=key.bits)
    return record, _key_findings(sel, key)


def _is_key_record(text: str) -> bool:
    tags = parse_tags(text)
    return tags.get("p") is not None or tags.get("v") == "DKIM1"


def _key_findings(sel: Selector, key: Key) -> list[Finding]:
    if key.status == "invalid":
        return [finding("dkim_key_invalid", f"the DKIM key at {sel.name} is not valid: {key.problem}",
                        f"republish the key of selector {sel.selector} exactly as the signer gives it "
                        "(one TXT record: v=DKIM1; k=rsa; p=<base64 key>)", sel.name, selector=sel.selector)]
    if key.status == "weak":
        return [finding("dkim_key_weak", f"the DKIM key at {sel.name} is a {key.bits}-bit RSA key: receivers "
                        f"ignore keys under {MIN_BITS} bits, so mail signed with it fails DKIM",
                        f"create a 2048-bit key under a new selector, publish it, switch signing to it, then "
                        f"remove {sel.name}", sel.name, selector=sel.selector, bits=key.bits)]
    if key.status == "revoked":
        return [finding("dkim_key_revoked", f"the DKIM key at {sel.name} is revoked (empty p=): mail still signed "
                        f"with selector {sel.selector} fails DKIM", f"if anything still signs with {sel.selector}, "
                        "switch it to a published selector", sel.name, selector=sel.selector)]
    return []


def read_key(text: str) -> Key:
    tags = parse_tags(text)
    if tags.problems:
        return Key("invalid", problem=tags.problems[0])
    version = tags.get("v")
    if version is not None and (version != "DKIM1" or tags.names[0] != "v"):
        return Key("invalid", problem="v= must be DKIM1 and come first")
    key_type = (tags.get("k") or "rsa").lower()
    if tags.get("p") is None:
        return Key("invalid", key_type, problem="it has no p= tag")
    data = "".join((tags.get("p") or "").split())
    if not data:
        return Key("revoked", key_type)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return Key("invalid", key_type, problem="p= is not base64")
    if key_type == "ed25519":
        return Key("ok", key_type, 256) if len(raw) == 32 else Key("invalid", key_type, problem="an ed25519 key has 32 bytes")
    if key_type != "rsa":
        return Key("invalid", key_type, problem=f"k={key_type} is not a DKIM key type (rsa or ed25519)")
    bits = rsa_bits(raw)
    if bits is None:
        return Key("invalid", key_type, problem="p= does not hold an RSA public key")
    return Key("weak" if bits < MIN_BITS else "ok", key_type, bits)


def rsa_bits(der: bytes) -> int | None:
    """The modulus length of an RSA public key in DER, or None if it is not one."""
    try:
        body, rest = _element(der, 0x30)
        if rest:
            return None
        first, after = _element(body, None)
        if first[0] == 0x30:  # SubjectPublicKeyInfo: algorithm, then a BIT STRING holding RSAPublicKey
            algorithm, _ = _element(first[1], 0x06)
            if algorithm != _RSA_OID:
                return None
            bitstring, _ = _element(after, 0x03)
            if not bitstring or bitstring[0] != 0:
                return None
            body, _ = _element(bitstring[1:], 0x30)
            first, after = _element(body, None)
        modulus = first[1] if first[0] == 0x02 else None
        _element(after, 0x02)  # the exponent must follow
    except ValueError:
        return None
    if not modulus:
        return None
    return int.from_bytes(modulus, "big").bit_length()


def _element(data: bytes, tag: int | None) -> Any:
    """(content, rest) of the first DER element; with tag None, ((tag, content), rest)."""
    if len(data) < 2:
        raise ValueError("short")
    got, length, offset = data[0], data[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            raise ValueError("bad length")
        length, offset = int.from_bytes(data[2:2 + count], "big"), 2 + count
    if len(data) < offset + length:
        raise ValueError("truncated")
    content, rest = data[offset:offset + length], data[offset + length:]
    if tag is None:
        return (got, content), rest
    if got != tag:
        raise ValueError("unexpected tag")
    return content, rest
