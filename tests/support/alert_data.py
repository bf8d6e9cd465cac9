"""Hand-made datasets whose alert truth is known: which conditions exist, so which alerts must be raised.

The "done when" scenario of the alerts issue, for example.com over 14 days (2026-03-02 .. 2026-03-15;
evaluated at 2026-03-15 12:00 UTC with 7-day periods, so the current period is 03-09 .. 03-15):
- 192.0.2.10, the domain's own server (approved network), passes every day;
- 203.0.113.20, an approved ESP (approved network), passes until 03-08 and is misconfigured from 03-09
  (SPF and DKIM pass for its own domain, not aligned): own_sender_failing;
- 198.51.100.7, an impostor seen in both periods: no alert (not new);
- 198.51.100.99, a new impostor on 03-12 and 03-13 with 2 x 15 messages: new_unauthorised_source;
- 198.51.100.100, a new impostor with 3 messages (below the threshold of 10): no alert;
- reporters google.com and Yahoo report daily through 03-14; Mail.Ru daily until 03-10, then nothing:
  reports_stopped for that reporter (silent 4 days at evaluation time).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from tests.support.analysis_data import feedback, rec

DOMAIN = "example.com"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
APPROVED_TOML = '[approved."example.com"]\nnetworks = ["192.0.2.0/24", "203.0.113.0/24"]\n'
EXPECTED_KEYS = {
    "new_unauthorised_source:example.com:198.51.100.99",
    "own_sender_failing:example.com:203.0.113.20",
    "reports_stopped:example.com:Mail.Ru",
}
REPORTERS = {"google.com": date(2026, 3, 14), "Yahoo": date(2026, 3, 14), "Mail.Ru": date(2026, 3, 10)}
FIRST = date(2026, 3, 2)
BREAK = date(2026, 3, 9)


def _own(n: int) -> str:
    return rec("192.0.2.10", n, DOMAIN, dkim=((DOMAIN, "pass"),), spf=(DOMAIN, "pass"), evaluated=("pass", "pass"))


def _esp(day: date) -> str:
    if day < BREAK:
        return rec("203.0.113.20", 20, DOMAIN, dkim=((DOMAIN, "pass"),), spf=("bounce.esp.example.net", "pass"),
                   evaluated=("pass", "fail"))
    return rec("203.0.113.20", 20, DOMAIN, dkim=(("esp.example.net", "pass"),), spf=("bounce.esp.example.net", "pass"))


def _impostor(ip: str, n: int) -> str:
    return rec(ip, n, DOMAIN, spf=(DOMAIN, "softfail"), disposition="reject")


def records_for(org: str, day: date) -> list[str]:
    records = [_own(300)]
    if org == "google.com":
        records.append(_esp(day))
        if day.day % 2 == 0:
            records.append(_impostor("198.51.100.7", 6))
        if day in (date(2026, 3, 12), date(2026, 3, 13)):
            records.append(_impostor("198.51.100.99", 15))
    if org == "Yahoo" and day == date(2026, 3, 11):
        records.append(_impostor("198.51.100.100", 3))
    return records


def scenario_payloads(policy: str = "<adkim>r</adkim><aspf>r</aspf><p>none</p>") -> list[bytes]:
    out = []
    for org, last in REPORTERS.items():
        day = FIRST
        while day <= last:
            out.append(feedback(records_for(org, day), domain=DOMAIN, day=day.isoformat(), org=org, policy=policy))
            day += timedelta(days=1)
    return out
