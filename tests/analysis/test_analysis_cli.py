"""The human output: exact tables that fit 80 columns, and the CSV columns."""

from __future__ import annotations

import csv
import io

import pytest

from tests.analysis.test_analysis_approved import CONFIG, RDNS
from tests.support.analysis_data import feedback, ingest_payloads, rec

SENDERS_TABLE = """\
6 source(s) sending as example.com

IP             sender            messages    pass  class
-------------  ----------------  --------  ------  -------------
203.0.113.5    partner-mail.net     1,500  100.0%  authorised
    DMARC passes: SPF passed for example.com, aligned with example.com; DKIM
    signed by example.com, aligned with example.com. Ok (approved by reverse DNS
    partner-mail.net).
167.89.10.20   Twilio SendGrid        120    0.0%  misconfigured
    SPF passed for em1.sendgrid.net, not aligned with example.com (aspf=r); DKIM
    signed by sendgrid.net, not aligned with example.com (adkim=r). Approved but
    failing: fix its setup (approved by service Twilio SendGrid). Shared IPs of
    Twilio SendGrid: other senders' mail shares their reputation.
    fix: In SendGrid, Settings > Sender Authentication > Authenticate Your
      Domain: enter example.com, publish the three CNAME records it shows
      (em<N>.example.com for the return path, s1._domainkey.example.com and
      s2._domainkey.example.com for DKIM) and press Verify; mail then signs with
      d=example.com and bounces through em<N>.example.com
198.2.130.5    Intuit Mailchimp        80    0.0%  misconfigured
    SPF passed for mail20.suw11.mcdlv.net, not aligned with example.com
    (aspf=r); DKIM signed by mcsv.net, not aligned with example.com (adkim=r).
    May be yours: approve it and fix it, or mark it not ours. Shared IPs of
    Intuit Mailchimp: other senders' mail shares their reputation.
    fix: In Mailchimp, Website > Domains (or Account > Domains): verify
      example.com, then choose Authenticate and publish the two CNAME records it
      shows (k2._domainkey.example.com and k3._domainkey.example.com); Mailchimp
      keeps its own return path, so DMARC aligns through DKIM
    to approve it, add under [approved."example.com"]:
      services = ["Intuit Mailchimp"]
    if it is not yours, add there instead:
      not_ours = ["Intuit Mailchimp"]
192.0.2.20     -                       30    0.0%  unauthorised
    nothing passes: SPF fail; no DKIM signature. Approved but failing: fix its
    setup (approved by network 192.0.2.16/28).
    fix: Make it sign DKIM with d=example.com and publish its public key as a
      TXT (or the CNAME it gives) at <selector>._domainkey.example.com; for SPF
      alignment too, authorise 192.0.2.20 in the SPF record (TXT v=spf1) of
      example.com or of the return-path domain under it that it uses (a sender
      the service catalogue does not know: its own documentation has the steps)
198.51.100.66  -                       25    0.0%  unauthorised
    nothing passes: SPF softfail; DKIM fail. Impostor candidate.
    to approve it, add under [approved."example.com"]:
      networks = ["198.51.100.66/32"]
2001:db8:5::1  -                        3    0.0%  unauthorised
    nothing passes: SPF fail; no DKIM signature. Impostor candidate.
    to approve it, add under [approved."example.com"]:
      networks = ["2001:db8:5::1/128"]
"""

SUMMARY_HEAD = """\
Overview (1 domain(s), worst first)
domain       messages    pass  status
-----------  --------  ------  -------------------------------------------------
example.com     1,758   85.3%  not ready: Twilio SendGrid fails DKIM alignment
                               (+2 more)

example.com: 1,758 messages in 1 report(s) from 1 reporter(s)
period 2026-03-02 to 2026-03-02 (UTC days)
policy p=none adkim=r aspf=r pct=100
status: not ready: Twilio SendGrid fails DKIM alignment (+2 more)

                        messages   share
DMARC pass                 1,500   85.3%
DMARC fail                   258   14.7%
SPF aligned                1,500   85.3%
DKIM aligned               1,500   85.3%
disposition none           1,758  100.0%
disposition quarantine         0    0.0%
disposition reject             0    0.0%
class authorised           1,500   85.3%
class forwarded                0    0.0%
class misconfigured          200   11.4%
class unauthorised            58    3.3%

Sources (top 2 of 6, by ip)
IP            sender            messages    pass  class
------------  ----------------  --------  ------  -------------
203.0.113.5   partner-mail.net     1,500  100.0%  authorised
167.89.10.20  Twilio SendGrid        120    0.0%  misconfigured

To fix: senders that fail and may be yours (3)
sender            IPs  messages    pass  class
----------------  ---  --------  ------  -------------
Twilio SendGrid     1       120    0.0%  misconfigured
"""

READINESS = """\
Readiness: 1,650 legitimate message(s), 150 failing DMARC
  and 80 failing from senders that may be yours
  if p=quarantine: 150 quarantined, 0 rejected (9.1% of legitimate mail)
  if p=reject: 0 quarantined, 150 rejected (9.1% of legitimate mail)
  (subdomains: sp as p; non-existent subdomains: np as sp)
Recommendation: Not ready for p=quarantine: 3 senders that may be yours fail
  DMARC: Twilio SendGrid (120 messages, fails DKIM alignment), Intuit Mailchimp
  (80 messages, fails DKIM alignment), 192.0.2.20 (30 messages, fails SPF and
  DKIM)
  - Not on the approved list: Intuit Mailchimp (80 messages); approve what is
    yours and fix it, mark the rest not ours (services and not_ours under
    [approved."example.com"]; `dmarcflow senders example.com` prints the lines)
  - Receivers delivered all 28 impostor message(s); under p=quarantine receivers
    would be asked to quarantine the delivered ones
"""


@pytest.fixture
def small(db_path, tmp_path):
    records = [
        rec("203.0.113.5", 1500, "example.com", dkim=(("example.com", "pass"),), spf=("example.com", "pass"),
            evaluated=("pass", "pass")),
        rec("167.89.10.20", 120, "example.com", dkim=(("sendgrid.net", "pass"),), spf=("em1.sendgrid.net", "pass")),
        rec("198.2.130.5", 80, "example.com", dkim=(("mcsv.net", "pass"),), spf=("mail20.suw11.mcdlv.net", "pass")),
        rec("192.0.2.20", 30, "example.com", spf=("example.com", "fail")),
        rec("198.51.100.66", 25, "example.com", spf=("example.com", "softfail"), dkim=(("example.com", "fail"),)),
        rec("2001:db8:5::1", 3, "example.com", spf=("example.com", "fail")),
    ]
    ingest_payloads(db_path, [feedback(records, domain="example.com")], RDNS)
    config = tmp_path / "dmarcflow.toml"
    config.write_text(CONFIG)
    return ["--config", str(config), "--db", str(db_path)]


def test_senders_table(small, cli):
    result = cli(*small, "senders", "example.com")
    assert result.exit_code == 0
    assert result.stdout == SENDERS_TABLE


def test_summary_table(small, cli):
    result = cli(*small, "summary", "--top", "2")
    assert result.exit_code == 0
    assert result.stdout.startswith(SUMMARY_HEAD)
    assert result.stdout.endswith(READINESS)


def test_sender_view_table(small, cli):
    result = cli(*small, "senders", "example.com", "--view", "sender", "--class", "misconfigured")
    assert result.stdout.splitlines()[:5] == [
        "2 misconfigured source(s) sending as example.com",
        "",
        "sender            IPs  messages    pass  class",
        "----------------  ---  --------  ------  -------------",
        "Twilio SendGrid     1       120    0.0%  misconfigured",
    ]


def test_senders_csv(small, cli):
    result = cli(*small, "senders", "example.com", "--class", "unauthorised", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["ip"], r["messages"], r["class"], r["verdict"], r["explanation"]) for r in rows] == [
        ("192.0.2.20", "30", "unauthorised", "approved but failing: fix its setup", "nothing passes: SPF fail; no DKIM signature"),
        ("198.51.100.66", "25", "unauthorised", "impostor candidate", "nothing passes: SPF softfail; DKIM fail"),
        ("2001:db8:5::1", "3", "unauthorised", "impostor candidate", "nothing passes: SPF fail; no DKIM signature"),
    ]


def test_summary_csv(small, cli):
    result = cli(*small, "summary", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {k: row[k] for k in ("domain", "messages", "dmarc_pass", "dmarc_fail", "disposition_none", "reports",
                                "begin", "end", "sources", "unauthorised", "quarantine_share")} == {
        "domain": "example.com", "messages": "1758", "dmarc_pass": "1500", "dmarc_fail": "258",
        "disposition_none": "1758", "reports": "1", "begin": "2026-03-02T00:00:00Z", "end": "2026-03-02T23:59:59Z",
        "sources": "6", "unauthorised": "3", "quarantine_share": "0.090909"}


@pytest.mark.parametrize("command", [
    ["summary"], ["summary", "--top", "0", "--view", "sender"], ["senders", "example.com"],
    ["senders", "example.org", "--view", "sender"], ["senders", "example.net", "--class", "forwarded"],
])
def test_every_table_fits_80_columns(mixed, cli, command):
    _, path = mixed
    result = cli("--db", path, *command)
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
