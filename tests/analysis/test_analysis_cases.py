"""Hand-written reports for the exact cases: alignment modes, mixed sources, sp/np, conflicts."""

from __future__ import annotations

import pytest

from dmarcflow.analysis import list_sources, summarise
from dmarcflow.config import ApprovedSenders
from tests.support.analysis_data import feedback, ingest_payloads, rec

STRICT = "<adkim>s</adkim><aspf>s</aspf><p>none</p>"
RELAXED = "<adkim>r</adkim><aspf>r</aspf><p>none</p>"


def _one(store, domain, **kw):
    (summary,) = summarise(store, [domain], **kw)
    return summary


def test_relaxed_alignment_accepts_what_strict_alignment_rejects(db_path, open_store):
    payloads = [
        feedback([rec("192.0.2.1", 50, "news.example.com", dkim=(("example.com", "pass"),),
                      spf=("bounce.example.com", "pass"), evaluated=("pass", "pass"))],
                 domain="example.com", policy=RELAXED),
        feedback([rec("192.0.2.1", 50, "news.example.org", dkim=(("example.org", "pass"),),
                      spf=("bounce.example.org", "pass"), evaluated=("fail", "fail"))],
                 domain="example.org", policy=STRICT),
        feedback([rec("192.0.2.1", 50, "news.example.net", dkim=(("example.net", "pass"),),
                      spf=("bounce.example.net", "pass"), evaluated=("fail", "pass"))],
                 domain="example.net", policy="<adkim>s</adkim><aspf>r</aspf><p>none</p>"),
    ]
    assert [o.status for o in ingest_payloads(db_path, payloads)] == ["ingested"] * 3
    store = open_store(db_path)
    (relaxed,) = list_sources(store, "example.com")
    (strict,) = list_sources(store, "example.org")
    (mixed,) = list_sources(store, "example.net")
    assert (relaxed.klass, relaxed.explanation) == (
        "authorised",
        "DMARC passes: SPF passed for bounce.example.com, aligned with news.example.com; "
        "DKIM signed by example.com, aligned with news.example.com",
    )
    assert (strict.klass, strict.explanation) == (
        "misconfigured",
        "SPF passed for bounce.example.org, not aligned with news.example.org (aspf=s); "
        "DKIM signed by example.org, not aligned with news.example.org (adkim=s)",
    )
    assert (mixed.klass, mixed.explanation) == (
        "authorised", "DMARC passes: SPF passed for bounce.example.net, aligned with news.example.net")
    figures = {s.domain: (s.messages, s.dmarc_pass, s.spf_aligned, s.dkim_aligned) for s in summarise(store)}
    assert figures == {"example.com": (50, 50, 50, 50), "example.org": (50, 0, 0, 0), "example.net": (50, 50, 50, 0)}


AUTHORISED = dict(dkim=(("example.com", "pass"),), spf=("example.com", "pass"), evaluated=("pass", "pass"))
SPOOF = dict(spf=("example.com", "fail"))


def test_a_source_of_mixed_classes_takes_the_class_with_most_messages(db_path, open_store):
    records = [
        rec("198.51.100.7", 328, "example.com", **AUTHORISED),
        rec("198.51.100.7", 12, "example.com", dkim=(("example.com", "fail"),), spf=("fwd.example.net", "fail"),
            reasons=("forwarded",)),
        rec("203.0.113.9", 10, "example.com", **AUTHORISED),
        rec("203.0.113.9", 10, "example.com", **SPOOF),
    ]
    ingest_payloads(db_path, [feedback(records, domain="example.com")])
    sources = {s.ip: s for s in list_sources(open_store(db_path), "example.com")}
    mostly = sources["198.51.100.7"]
    assert (mostly.klass, mostly.messages, mostly.dmarc_pass, dict(mostly.classes)) == (
        "authorised", 340, 328, {"authorised": 328, "forwarded": 12})
    assert mostly.explanation == (
        "DMARC passes: SPF passed for example.com, aligned with example.com; "
        "DKIM signed by example.com, aligned with example.com; 12 of 340 messages forwarded")
    tie = sources["203.0.113.9"]
    assert (tie.klass, tie.explanation) == (
        "unauthorised", "nothing passes: SPF fail; no DKIM signature; 10 of 20 messages authorised")


def test_forwarded_explanations_say_why(db_path, open_store):
    records = [
        rec("192.0.2.50", 7, "example.com", dkim=(("example.com", "pass"),), spf=("relay.example.net", "softfail"),
            evaluated=("pass", "fail")),
        rec("192.0.2.51", 5, "example.com", dkim=(("example.com", "fail"),), spf=("lists.example.org", "pass"),
            reasons=("mailing_list",)),
    ]
    ingest_payloads(db_path, [feedback(records, domain="example.com")])
    got = {s.ip: (s.klass, s.explanation) for s in list_sources(open_store(db_path), "example.com")}
    assert got == {
        "192.0.2.50": ("forwarded", "forwarded: aligned DKIM passes but SPF fails, as after a forwarder; "
                                    "SPF softfail; DKIM signed by example.com, aligned with example.com"),
        "192.0.2.51": ("forwarded", "forwarded: the receiver reported a mailing_list override; SPF passed for "
                                    "lists.example.org, not aligned with example.com (aspf=r); DKIM fail"),
    }


def _readiness_data(policy: str) -> list[bytes]:
    esp = dict(spf=("bounce.esp-mailer.net", "pass"), dkim=(("esp-mailer.net", "pass"),))
    records = [
        rec("198.51.100.1", 900, "example.com", **AUTHORISED),
        rec("192.0.2.20", 60, "example.com", **esp),
        rec("192.0.2.20", 40, "news.example.com", **esp),
        rec("203.0.113.66", 50, "example.com", **SPOOF),
    ]
    return [feedback(records, domain="example.com", policy=policy)]


APPROVED = {"example.com": ApprovedSenders(networks=("192.0.2.16/28",))}


BLOCKED = "192.0.2.20 (100 messages) fails DKIM alignment"


@pytest.mark.parametrize("policy, quarantine, reject, sp, advice", [
    ("<p>none</p>", (100, 0, 0.1), (0, 100, 0.1), None, f"Not ready for p=quarantine: {BLOCKED}"),
    ("<p>none</p><sp>none</sp>", (60, 0, 0.06), (0, 60, 0.06), "none", f"Not ready for p=quarantine: {BLOCKED}"),
    ("<p>quarantine</p><sp>reject</sp>", (60, 40, 0.1), (0, 100, 0.1), "reject", f"Not ready for p=reject: {BLOCKED}"),
    ("<p>reject</p><sp>quarantine</sp>", (100, 0, 0.1), (40, 60, 0.1), "quarantine",
     f"p=reject is in place but {BLOCKED}: its mail may be rejected or quarantined"),
])
def test_readiness_applies_sp_to_subdomains(db_path, open_store, policy, quarantine, reject, sp, advice):
    ingest_payloads(db_path, _readiness_data(policy))
    s = _one(open_store(db_path), "example.com", approved=APPROVED)
    r = s.readiness
    assert s.policy.sp == sp
    assert (r.legitimate_messages, r.legitimate_failing) == (1000, 100)
    assert (r.quarantine.quarantined, r.quarantine.rejected, r.quarantine.share) == quarantine
    assert (r.reject.quarantined, r.reject.rejected, r.reject.share) == reject
    assert r.approved_failing == ("192.0.2.20",)
    assert r.recommendation == advice
    assert [(b.sender, b.messages, b.approved) for b in r.blockers] == [("192.0.2.20", 100, True)]


def test_readiness_without_failing_legitimate_mail(db_path, open_store):
    records = [rec("198.51.100.1", 900, "example.com", **AUTHORISED), rec("203.0.113.66", 50, "example.com", **SPOOF)]
    ingest_payloads(db_path, [feedback(records, domain="example.com", policy="<p>none</p>")])
    r = _one(open_store(db_path), "example.com").readiness
    assert (r.legitimate_messages, r.legitimate_failing, r.quarantine.share, r.reject.share) == (900, 0, 0.0, 0.0)
    assert r.recommendation == "Ready for p=quarantine: all legitimate mail passes DMARC"


def test_np_is_reported_as_published(db_path, cli):
    policy = "<adkim>r</adkim><aspf>r</aspf><p>reject</p><np>reject</np><testing>n</testing>"
    ingest_payloads(db_path, [feedback([rec("198.51.100.1", 9, "ghost.example.com", **SPOOF, disposition="reject")],
                                       domain="example.com", policy=policy)])
    result = cli("--db", db_path, "summary", "example.com")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:3] == ["period 2026-03-02 to 2026-03-02 (UTC days)",
                                               "policy p=reject np=reject adkim=r aspf=r"]
    assert "disposition reject             9  100.0%" in result.stdout.splitlines()


def test_a_conflicting_second_version_does_not_count(db_path, open_store):
    first = feedback([rec("198.51.100.1", 10, "example.com", **AUTHORISED)], domain="example.com", report_id="x")
    second = feedback([rec("198.51.100.1", 99, "example.com", **AUTHORISED)], domain="example.com", report_id="x")
    assert [o.status for o in ingest_payloads(db_path, [first, second])] == ["ingested", "conflict"]
    s = _one(open_store(db_path), "example.com")
    assert (s.messages, s.reports, s.reporters) == (10, 1, 1)


@pytest.mark.parametrize("p, tail", [
    ("none", "may be lost under p=quarantine"),
    ("reject", "p=reject applies to them unless receivers override"),
])
def test_readiness_with_forwarded_mail_failing(db_path, open_store, p, tail):
    records = [
        rec("198.51.100.1", 95, "example.com", **AUTHORISED),
        rec("192.0.2.51", 5, "example.com", dkim=(("example.com", "fail"),), spf=("lists.example.org", "pass"),
            reasons=("mailing_list",)),
        rec("192.0.2.52", 7, "example.com", dkim=(("example.com", "pass"),), spf=("fwd.example.net", "fail"),
            evaluated=("pass", "fail")),
    ]
    ingest_payloads(db_path, [feedback(records, domain="example.com", policy=f"<p>{p}</p>")])
    r = _one(open_store(db_path), "example.com").readiness
    assert (r.legitimate_messages, r.legitimate_failing, r.quarantine.share) == (107, 5, 0.046729)
    assert r.recommendation == (
        f"5 message(s) from legitimate sources (4.7% of legitimate mail) fail DMARC, most likely after forwarding: {tail}")


def test_the_example_config_approved_list_is_valid():
    from pathlib import Path

    from dmarcflow.analysis.approved import matcher_for
    from dmarcflow.config import load_settings

    settings = load_settings(Path(__file__).resolve().parents[2] / "config" / "dmarcflow.example.toml", env={})
    matcher = matcher_for("example.com", settings.approved)
    approved = matcher.approved
    assert (len(approved.services), len(approved.networks), approved.rdns_domains) == (2, 2, ("partner-mail.net",))
