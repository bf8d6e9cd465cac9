"""SPF records (RFC 7208): terms parsed, macros expanded. No DNS here.

A record parses into mechanisms (in order) and the redirect modifier; anything
that does not parse is a problem that makes the record a permerror.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
DNS_TERMS = ("include", "a", "mx", "ptr", "exists")  # count toward the 10-lookup limit (and redirect)
_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9._-]*)=(.*)$")
_MACRO = re.compile(r"%(?:\{([slodiphcrtv])(\d*)(r?)([.\-+,/_=]*)\}|%|_|-)", re.IGNORECASE)
_CIDR = re.compile(r"^(.*?)(?:/(\d{1,2}))?(?://(\d{1,3}))?$")


@dataclass(frozen=True)
class Mechanism:
    qualifier: str  # pass | fail | softfail | neutral
    name: str
    target: str | None  # the domain-spec (macro string) or the network
    cidr4: int | None = None
    cidr6: int | None = None
    term: str = ""  # as written in the record

    def __str__(self) -> str:
        if self.term:
            return self.term
        prefix = {"pass": "", "fail": "-", "softfail": "~", "neutral": "?"}[self.qualifier]
        return prefix + self.name + (f":{self.target}" if self.target else "")


@dataclass(frozen=True)
class SpfRecord:
    text: str
    mechanisms: tuple[Mechanism, ...]
    redirect: str | None
    problems: tuple[str, ...]

    @property
    def has_all(self) -> bool:
        return any(m.name == "all" for m in self.mechanisms)

    @property
    def uses_redirect(self) -> bool:
        """A redirect is ignored when the record has an all mechanism (RFC 7208 6.1)."""
        return self.redirect is not None and not self.has_all


def is_spf(text: str) -> bool:
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def parse_spf(text: str) -> SpfRecord:
    terms = text.split()
    mechanisms: list[Mechanism] = []
    problems: list[str] = []
    modifiers: dict[str, str] = {}
    for term in terms[1:]:
        modifier = _MODIFIER.match(term)
        if modifier and modifier.group(1).lower() not in MECHANISMS:
            key = modifier.group(1).lower()
            if key in modifiers and key in ("redirect", "exp"):
                problems.append(f"{key}= appears more than once")
            modifiers[key] = modifier.group(2)
            if key in ("redirect", "exp"):
                problems += _macro_problems(modifier.group(2), term)
            continue
        mechanism, problem = _mechanism(term)
        if problem:
            problems.append(problem)
        elif mechanism:
            mechanisms.append(replace(mechanism, term=term))
    return SpfRecord(text, tuple(mechanisms), modifiers.get("redirect"), tuple(problems))


def _mechanism(term: str) -> tuple[Mechanism | None, str | None]:
    qualifier = "pass"
    if term[0] in _QUALIFIERS:
        qualifier, term = _QUALIFIERS[term[0]], term[1:]
    name, _, rest = term.partition(":")
    if "/" in name and name.split("/", 1)[0].lower() in ("a", "mx"):  # "a/24" without a domain
        name, rest = name.split("/", 1)[0], "/" + name.split("/", 1)[1]
        return _with_cidr(qualifier, name.lower(), rest, term)
    name = name.lower()
    if name not in MECHANISMS:
        return None, f"{term!r} is not an SPF mechanism or modifier"
    if name == "all":
        return (Mechanism(qualifier, name, None), None) if not rest else (None, f"{term!r}: all takes no value")
    if name in ("ip4", "ip6"):
        return _network(qualifier, name, rest, term)
    if name in ("include", "exists"):
        if not rest:
            return None, f"{term!r}: {name} needs a domain"
        problems = _macro_problems(rest, term)
        return (None, problems[0]) if problems else (Mechanism(qualifier, name, rest), None)
    if name in ("a", "mx"):
        return _with_cidr(qualifier, name, rest, term)
    problems = _macro_problems(rest, term) if rest else []
    return (None, problems[0]) if problems else (Mechanism(qualifier, name, rest or None), None)


def _with_cidr(qualifier: str, name: str, rest: str, term: str) -> tuple[Mechanism | None, str | None]:
    match = _CIDR.match(rest)
    spec, c4, c6 = (match.group(1), match.group(2), match.group(3)) if match else (rest, None, None)
    if (c4 is not None and int(c4) > 32) or (c6 is not None and int(c6) > 128):
        return None, f"{term!r}: the prefix length is out of range"
    problems = _macro_problems(spec, term) if spec else []
    if problems:
        return None, problems[0]
    return Mechanism(qualifier, name, spec or None, int(c4) if c4 else None, int(c6) if c6 else None), None


def _network(qualifier: str, name: str, rest: str, term: str) -> tuple[Mechanism | None, str | None]:
    try:
        net = ipaddress.ip_network(rest, strict=False)
    except ValueError:
        return None, f"{term!r} is not a valid {name} network"
    if net.version != (4 if name == "ip4" else 6):
        return None, f"{term!r}: {name} needs an IPv{4 if name == 'ip4' else 6} network"
    return Mechanism(qualifier, name, str(net)), None


def _macro_problems(spec: str, term: str) -> list[str]:
    if "%" in _MACRO.sub("", spec):
        return [f"{term!r} has a malformed macro"]
    return []


def has_macro(spec: str) -> bool:
    return "%" in spec


@dataclass(frozen=True)
class MacroContext:
    ip: str
    domain: str
    sender: str  # local@domain of the MAIL FROM (postmaster@domain when unknown)

    def value(self, letter: str) -> str:
        local, _, sender_domain = self.sender.rpartition("@")
        address = ipaddress.ip_address(self.ip)
        ip_text = ".".join(address.exploded.replace(":", "")) if address.version == 6 else str(address)
        return {"s": self.sender, "l": local or "postmaster", "o": sender_domain, "d": self.domain, "i": ip_text,
                "p": "unknown", "v": "in-addr" if address.version == 4 else "ip6", "h": "unknown",
                "c": str(address), "r": "unknown", "t": "0"}[letter]


def expand(spec: str, ctx: MacroContext) -> str:
    """A domain-spec with its macros expanded (RFC 7208 7.3), cut to 253 characters from the left."""
    def one(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "%%":
            return "%"
        if whole == "%_":
            return " "
        if whole == "%-":
            return "%20"
        letter, digits, reverse, delimiters = match.groups()
        parts = re.split("[" + re.escape(delimiters or ".") + "]", ctx.value(letter.lower()))
        if reverse:
            parts.reverse()
        if digits:
            parts = parts[-int(digits):] if int(digits) else parts
        return ".".join(parts)

    out = _MACRO.sub(one, spec).rstrip(".")
    while len(out) > 253 and "." in out:
        out = out.split(".", 1)[1]
    return out
