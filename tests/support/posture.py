"""Saved DNS checks for the web, alert and digest tests: `dmarcflow check` run against the loopback DNS server
(tests/support/dns_server.py), into a real store, as the command does it.

DNS records are text anyone can publish (an include target, a report destination's authorisation record), so
the hostile zone holds HTML and script in every record `check` shows, and a forged report names a DKIM
selector that is HTML too (check looks up a key for it and reports it missing, naming the selector).
"""

from __future__ import annotations

from pathlib import Path

from dmarcflow.check import CheckRun, run_checks
from dmarcflow.config import DnsSettings, Settings, StoreSettings
from tests.support.analysis_data import feedback, rec
from tests.support.check_zones import Records, healthy, merge, rsa_key, zones
from tests.support.web import IMG, SCRIPT, SVG, xml_text

HOSTILE_CHECKED = "xss.test"
HOSTILE_SELECTOR = "<svg/onload=alert(3)>"  # no space: it must be one DNS label
HOSTILE_DMARC = f"v=DMARC1; p=reject; rua=mailto:{SCRIPT}@xss.test"
HOSTILE_SPF = f"v=spf1 include:{IMG} -all"
HOSTILE_STS = f"v=STSv1; id={SVG}"
HOSTILE_BIMI = f"v=BIMI1; l={SCRIPT}"


def example_com_keys() -> Records:
    """Valid keys for every selector the sample reports of example.com sign with."""
    return {f"{selector}._domainkey.{domain}": [("TXT", f"v=DKIM1; k=rsa; p={rsa_key(2048, seed)}")]
            for seed, (selector, domain) in enumerate(
                (s, d) for s in ("google", "s2026", "selector1") for d in ("example.com", "mail.example.com"))}


def web_zones() -> Records:
    """The check tests' zones, plus example.com (p=none, its keys) and the hostile xss.test."""
    return merge(
        zones(),
        healthy("example.com", **{"_dmarc.DOMAIN": "v=DMARC1; p=none; rua=mailto:dmarc@example.com"}),
        example_com_keys(),
        healthy(HOSTILE_CHECKED, **{"_dmarc.DOMAIN": HOSTILE_DMARC, "DOMAIN": HOSTILE_SPF,
                                    "_mta-sts.DOMAIN": HOSTILE_STS}),
        {f"default._bimi.{HOSTILE_CHECKED}": [("TXT", HOSTILE_BIMI)]},
    )


def hostile_selector_report() -> bytes:
    """A report of xss.test whose aligned DKIM signature names an HTML selector (check looks its key up)."""
    report = feedback([rec("192.0.2.44", 25, HOSTILE_CHECKED, dkim=((HOSTILE_CHECKED, "pass"),),
                           evaluated=("pass", "fail"))], domain=HOSTILE_CHECKED, org="rx.example")
    return report.replace(b"<selector>s1</selector>", f"<selector>{xml_text(HOSTILE_SELECTOR)}</selector>".encode())


def run_check(db: Path, domains: tuple[str, ...], nameserver: str) -> CheckRun:
    """`dmarcflow check DOMAIN... --nameserver IP:PORT` with the store at db (the library call it makes)."""
    settings = Settings(store=StoreSettings(path=str(db)), dns=DnsSettings(nameservers=(nameserver,), timeout=0.5))
    return run_checks(domains, settings)
