"""SPF evaluation (check_host) against a real DNS server on loopback, and macro expansion (RFC 7208 7.4)."""

from __future__ import annotations

import pytest

from dmarcflow.check.dns import DnsClient
from dmarcflow.check.spf_eval import SpfEvaluator
from dmarcflow.check.spf_record import MacroContext, expand, parse_spf
from dmarcflow.config import DnsSettings
from tests.support.check_zones import merge
from tests.support.dns_server import ZoneServer

TXT = "TXT"
ZONE = merge(
    {"ev.test": [(TXT, "v=spf1 ip4:192.0.2.0/25 include:inc.ev.test a:web.ev.test/30 mx ~all"),
                 ("MX", "10 mx1.ev.test"), ("MX", "20 mx2.ev.test")]},
    {"inc.ev.test": [(TXT, "v=spf1 ip6:2001:db8::/32 exists:%{i}.allow.ev.test -all")]},
    {"web.ev.test": [("A", "198.51.100.9")], "mx1.ev.test": [("A", "203.0.113.10")],
     "mx2.ev.test": [("A", "203.0.113.20")], "203.0.113.7.allow.ev.test": [("A", "127.0.0.2")]},
    {"redir.ev.test": [(TXT, "v=spf1 redirect=ev.test")]},
    {"late.ev.test": [(TXT, "v=spf1 ip4:192.0.2.1 " + " ".join(f"a:h{i}.ev.test" for i in range(11)) + " -all")]},
    {f"h{i}.ev.test": [("A", f"198.18.0.{i}")] for i in range(11)},
    {"voids.ev.test": [(TXT, "v=spf1 a:n1.ev.test a:n2.ev.test a:n3.ev.test ip4:192.0.2.1 -all")]},
    {"loop.ev.test": [(TXT, "v=spf1 include:loop.ev.test -all")]},
    {"broken.ev.test": [(TXT, "v=spf1 include:nothere.ev.test -all")]},
)


@pytest.fixture(scope="module")
def evaluator():
    with ZoneServer(ZONE) as server:
        yield SpfEvaluator(DnsClient(DnsSettings(timeout=1.0), (server.address,)))


@pytest.mark.parametrize("ip, domain, result, term", [
    ("192.0.2.77", "ev.test", "pass", "ip4:192.0.2.0/25"),
    ("2001:db8::5", "ev.test", "pass", "include:inc.ev.test"),
    ("203.0.113.7", "ev.test", "pass", "include:inc.ev.test"),  # exists with the %{i} macro
    ("198.51.100.10", "ev.test", "pass", "a:web.ev.test/30"),  # inside the /30 around web.ev.test
    ("203.0.113.20", "ev.test", "pass", "mx"),
    ("198.51.100.200", "ev.test", "softfail", "~all"),
    ("198.51.100.200", "redir.ev.test", "softfail", "~all"),
    ("192.0.2.1", "late.ev.test", "pass", "ip4:192.0.2.1"),  # matched before the 11th lookup is needed
    ("198.51.100.200", "nothing.ev.test", "none", None),
])
def test_check_host(evaluator, ip, domain, result, term):
    got = evaluator.check_host(ip, domain)
    assert (got.result, got.mechanism) == (result, term)


@pytest.mark.parametrize("ip, domain, reason", [
    ("198.18.0.99", "late.ev.test", "more than 10 DNS lookups"),
    ("192.0.2.1", "voids.ev.test", "more than 2 void lookups"),
    ("192.0.2.1", "loop.ev.test", "more than 10 DNS lookups"),
    ("192.0.2.1", "broken.ev.test", "the include target nothere.ev.test has no SPF record"),
])
def test_limits_and_broken_includes_are_permerrors(evaluator, ip, domain, reason):
    got = evaluator.check_host(ip, domain)
    assert (got.result, got.reason) == ("permerror", reason)


CTX4 = MacroContext("192.0.2.3", "email.example.com", "strong-bad@email.example.com")


@pytest.mark.parametrize("spec, expected", [  # RFC 7208 section 7.4
    ("%{s}", "strong-bad@email.example.com"), ("%{o}", "email.example.com"), ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"), ("%{d3}", "email.example.com"), ("%{d2}", "example.com"), ("%{d1}", "com"),
    ("%{dr}", "com.example.email"), ("%{d2r}", "example.email"), ("%{l}", "strong-bad"), ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"), ("%{lr-}", "bad.strong"), ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
])
def test_macro_expansion(spec, expected):
    assert expand(spec, CTX4) == expected


def test_macro_expansion_ipv6():
    ctx = MacroContext("2001:db8::cb01", "email.example.com", "strong-bad@email.example.com")
    assert expand("%{ir}.%{v}._spf.%{d2}", ctx) == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")


@pytest.mark.parametrize("text, problems", [
    ("v=spf1 ip4:192.0.2.0/24 -all", ()),
    ("v=spf1 a/24 mx//64 a:x.example/28//64 exists:%{i}._spf.example.com ?all", ()),
    ("v=spf1 ip4:192.0.2.300 -all", ("'ip4:192.0.2.300' is not a valid ip4 network",)),
    ("v=spf1 ip6:192.0.2.1 -all", ("'ip6:192.0.2.1': ip6 needs an IPv6 network",)),
    ("v=spf1 foo:bar -all", ("'foo:bar' is not an SPF mechanism or modifier",)),
    ("v=spf1 include: -all", ("'include:': include needs a domain",)),
    ("v=spf1 exists:%{q}.example -all", ("'exists:%{q}.example' has a malformed macro",)),
    ("v=spf1 redirect=a.example redirect=b.example", ("redirect= appears more than once",)),
    ("v=spf1 a/33 -all", ("'a/33': the prefix length is out of range",)),
    ("v=spf1 ip4:192.0.2.1 unknown-mod=x -all", ()),  # unknown modifiers are ignored (RFC 7208 6)
])
def test_parse_problems(text, problems):
    assert parse_spf(text).problems == problems
