"""A summary builds only the sources it shows (``analysis.ip_view``); its answers stay those of every source built.

The reference here is the summary as it was assembled before: every source of the IP view built, readiness
assessed over all of them, the top cut from the full list. Both are compared byte for byte as the CLI and the
web API print them, on the generated stores, for every domain, in windows that hold every day of a domain
(answered from the whole-history rollup) and windows that do not (the daily rollup), in both views, with
and without approved and not_ours entries.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, timedelta

import pytest

from dmarcflow.analysis import summarise
from dmarcflow.analysis.approved import matcher_for
from dmarcflow.analysis.catalogue import Catalogue
from dmarcflow.analysis.ip_view import ip_view
from dmarcflow.analysis.readiness import assess
from dmarcflow.analysis.sources import build_sources
from dmarcflow.analysis.summary import DomainSummary, StoreBackend, _to_fix
from dmarcflow.analysis.window import window_of
from dmarcflow.answers import summary_answer, to_json
from dmarcflow.config import ApprovedSenders
from dmarcflow.models import SOURCE_CLASSES, Window
from dmarcflow.store import Store
from tests.support.analysis_data import feedback, ingest_payloads, rec

DOMAINS = ("example.com", "example.net", "example.org")
LISTED = {
    "example.com": ApprovedSenders(services=("Twilio SendGrid",), networks=("192.0.2.0/24",)),
    "example.net": ApprovedSenders(not_ours=("Amazon SES",)),
}
EPOCH = date(1970, 1, 1)


def _every_source(store: Store, domain: str, window: Window, approved, view: str, top: int) -> DomainSummary | None:
    """The summary from every source built (the assembly before ``ip_view``)."""
    found = StoreBackend(store).results(domain, window)
    if found is None:
        return None
    catalogue, matcher, policy = Catalogue.load(), matcher_for(domain, approved), found.reports.policy
    by_ip = build_sources(found.rows, found.infos, domain, policy, matcher, "ip", catalogue)
    shown = by_ip if view == "ip" else build_sources(found.rows, found.infos, domain, policy, matcher, view, catalogue)
    classes = dict.fromkeys(SOURCE_CLASSES, 0)
    for r in found.rows:
        classes[r.klass] += r.messages
    t, reports = found.totals, found.reports
    return DomainSummary(
        domain=domain, messages=t.messages, dmarc_pass=t.dmarc_pass, spf_aligned=t.spf_aligned,
        dkim_aligned=t.dkim_aligned, dispositions=t.dispositions, classes=classes, reports=reports.reports,
        reporters=reports.reporters, begin_ts=reports.begin_ts, end_ts=reports.end_ts, policy=policy,
        source_count=len(shown), sources=tuple(shown[:top] if top > 0 else shown),
        unauthorised=tuple(s for s in shown if s.klass == "unauthorised"),
        readiness=assess(by_ip, policy, domain),
        to_fix=tuple(_to_fix(by_ip, found.infos, domain, policy, matcher, catalogue)),
        dns_check=store.checks.latest(domain),
    )


def _span(store: Store, domain: str) -> tuple[date, date]:
    first, last = store.conn.execute("SELECT MIN(day), MAX(day) FROM daily_sources WHERE domain = ?", (domain,)).fetchone()
    return EPOCH + timedelta(days=first), EPOCH + timedelta(days=last)


@pytest.mark.parametrize("listed", [False, True], ids=["unlisted", "listed"])
@pytest.mark.parametrize("view", ["ip", "sender"])
@pytest.mark.parametrize("top", [1, 3, 10, 0])
def test_the_summary_is_the_one_from_every_source(mixed, open_store, listed, view, top):
    _, path = mixed
    store = open_store(path)
    approved = LISTED if listed else {}
    day = timedelta(days=1)
    compared = 0
    for domain in DOMAINS:
        first, last = _span(store, domain)
        windows = {"all time": (None, None), "exactly the days": (first, last), "from the first day": (first, None),
                   "without the first day": (first + day, last), "the last two days": (last - day, last),
                   "a middle day": (first + 2 * day, first + 2 * day)}
        for name, (since, until) in windows.items():
            got = summarise(store, [domain], since, until, approved, view=view, top=top)
            window = window_of(since, until)
            want = _every_source(store, domain, window, approved, view, top)
            assert to_json(summary_answer(got)) == to_json(summary_answer([want] if want else [])), (domain, name)
            compared += want is not None
            assert (want is None) is (store.rollups.report_facts(domain, window).reports == 0)
    assert compared >= 15  # of 18: a middle day may hold no report of a domain


def test_the_stores_have_quiet_sources_inside_and_outside_the_top(mixed, open_store):
    """The comparison above covers the new path: quiet sources that are shown, and others that are not."""
    _, path = mixed
    store = open_store(path)
    found = StoreBackend(store).results("example.com", Window())
    assert found is not None
    view = ip_view(found.rows, found.infos, "example.com", found.reports.policy, matcher_for("example.com", {}),
                   Catalogue.load(), 3)
    every = build_sources(found.rows, found.infos, "example.com", found.reports.policy,
                          matcher_for("example.com", {}), "ip", Catalogue.load())
    quiet = view.count - len(view.built)
    assert view.count == len(every) > 3
    assert quiet > 0
    assert [s.ip for s in view.top] == [s.ip for s in every[:3]]
    built = {s.ip for s in view.built}
    assert any(s.ip not in built for s in every[:3]) or quiet > 3  # a quiet source shown, or quiet ones left out
    assert view.quiet.messages == sum(s.messages for s in every if s.ip not in built)


def test_a_source_built_at_once_equals_one_built_by_its_constructor(mixed, open_store):
    """Sources are made without the dataclass __init__ (one step for every field): the same object as the
    constructor makes, every field set."""
    _, path = mixed
    store = open_store(path)
    found = StoreBackend(store).results("example.org", Window())
    assert found is not None
    for view in ("ip", "sender"):
        sources = build_sources(found.rows, found.infos, "example.org", found.reports.policy,
                                matcher_for("example.org", LISTED), view, Catalogue.load())
        assert sources
        for s in sources:
            again = dataclasses.replace(s)
            assert again == s
            assert vars(again).keys() == vars(s).keys() == {f.name for f in dataclasses.fields(s)}
            assert (again.explanation, again.main_row) == (s.explanation, s.main_row)


QUIET = "quiet.example"
OURS = ((QUIET, "pass"),)


def _day_records(scale: int) -> list[str]:
    """Every kind of source: authorised with aligned DKIM (ties in volume among them), SPF-only, forwarded
    through a list (one from a subdomain), misconfigured, unauthorised."""
    out = [rec(f"192.0.2.{i}", n * scale, QUIET, dkim=OURS, spf=(QUIET, "pass"), evaluated=("pass", "pass"))
           for i, n in enumerate((50, 40, 40, 30, 30, 30, 20, 9, 9, 5, 2, 1), start=1)]
    out += [rec(f"198.51.100.{i}", n * scale, QUIET, dkim=(("esp.example", "pass"),), spf=(QUIET, "pass"),
                evaluated=("fail", "pass")) for i, n in enumerate((45, 30, 3), start=1)]
    out += [rec(f"203.0.113.{i}", n * scale, f"{sub}{QUIET}", dkim=((QUIET, "fail"),), reasons=("mailing_list",),
                disposition="none") for i, (n, sub) in enumerate(((35, ""), (30, "news."), (4, "")), start=1)]
    out += [rec(f"203.0.113.{10 + i}", n * scale, QUIET, dkim=(("sendgrid.net", "pass"),), spf=("sendgrid.net", "pass"))
            for i, n in enumerate((41, 6))]
    out += [rec(f"203.0.113.{20 + i}", n * scale, QUIET, spf=(QUIET, "fail"), disposition=d)
            for i, (n, d) in enumerate(((38, "reject"), (7, "quarantine"), (2, "none")))]
    return out


@pytest.fixture(scope="module")
def quiet_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("quiet") / "store.sqlite"
    reports = [feedback(_day_records(scale), domain=QUIET, day=day, org=f"rx{scale}.example")
               for scale, day in ((1, "2026-03-02"), (2, "2026-03-03"), (3, "2026-03-04"))]
    assert [o.status for o in ingest_payloads(path, reports)] == ["ingested"] * 3
    return path


QUIET_LISTS = {
    "none": {},
    "approved": {QUIET: ApprovedSenders(networks=("192.0.2.0/30", "203.0.113.10/32"))},
    "not ours": {QUIET: ApprovedSenders(not_ours=("192.0.2.2/32", "198.51.100.1/32"))},
}


@pytest.mark.parametrize("lists", QUIET_LISTS)
@pytest.mark.parametrize("view", ["ip", "sender"])
@pytest.mark.parametrize("top", [1, 2, 3, 8, 0])
def test_every_kind_of_source_in_and_out_of_the_top(quiet_store, open_store, lists, view, top):
    store = open_store(quiet_store)
    approved = QUIET_LISTS[lists]
    for since, until in ((None, None), (date(2026, 3, 3), None), (date(2026, 3, 2), date(2026, 3, 3))):
        got = summarise(store, [QUIET], since, until, approved, view=view, top=top)
        want = _every_source(store, QUIET, window_of(since, until), approved, view, top)
        assert want is not None
        assert to_json(summary_answer(got)) == to_json(summary_answer([want])), (since, until)


def test_the_hand_made_store_holds_every_kind(quiet_store, open_store):
    store = open_store(quiet_store)
    (s,) = summarise(store, [QUIET], top=0)
    assert Counter(src.klass for src in s.sources) == {"authorised": 15, "forwarded": 3, "misconfigured": 2,
                                                       "unauthorised": 3}
    assert [b.sender for b in s.readiness.spf_only] == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    assert s.readiness.mailing_list == 69 * 6
    assert s.readiness.legitimate_failing == 69 * 6
    found = StoreBackend(store).results(QUIET, Window())
    assert found is not None
    view = ip_view(found.rows, found.infos, QUIET, found.reports.policy, matcher_for(QUIET, {}), Catalogue.load(), 2)
    assert (view.count, len(view.built), view.quiet.messages) == (23, 8, (266 + 69) * 6)
