"""The readiness rules against data with a known truth: the bundled samples (built by the seeded
generator) and generated mixed datasets. No domain is ever called ready while a sender that may be
the domain's fails; the largest such senders are named with their volume; impostor handling is told."""

from __future__ import annotations

from collections import Counter

import pytest

from dmarcflow.analysis import list_sources, overview, summarise
from dmarcflow.config import ApprovedSenders
from tests.support.analysis_data import feedback, ingest_payloads, rec, source_truth

SERVICE = {"SendGrid": "Twilio SendGrid", "Mailchimp": "Intuit Mailchimp", "Amazon SES": "Amazon SES"}


def _misconfigured(volumes: Counter) -> list[tuple[str, int]]:
    """(catalogue name, messages) of the misconfigured senders, biggest first."""
    found = Counter()
    for (klass, sender), n in volumes.items():
        if klass == "misconfigured":
            found[SERVICE[sender]] += n
    return sorted(found.items(), key=lambda x: (-x[1], x[0]))


def test_no_sample_domain_is_ready_while_a_sender_that_may_be_ours_fails(samples, open_store):
    path, volumes, _ = samples
    for s in summarise(open_store(path)):
        wanted = _misconfigured(volumes[s.domain])
        assert wanted, s.domain  # every sample domain has one: the rule is exercised for each
        r = s.readiness
        assert [(b.sender, b.messages) for b in r.blockers] == wanted
        assert not r.recommendation.lower().startswith("ready")
        assert f"{wanted[0][0]} ({wanted[0][1]} messages" in r.recommendation
        assert s.status.severity == "critical"


def test_example_net_sendgrid_blocks_the_next_step(samples, open_store):
    """The case the issue started from: example.net was called ready for p=reject while SendGrid failed."""
    path, volumes, _ = samples
    (s,) = summarise(open_store(path), ["example.net"])
    sendgrid = volumes["example.net"][("misconfigured", "SendGrid")]
    assert s.readiness.recommendation == f"Not ready for p=reject: Twilio SendGrid ({sendgrid} messages) fails DKIM alignment"
    assert s.status.status == "not ready: Twilio SendGrid fails DKIM alignment"
    fixes = {src.fix for src in s.to_fix}
    assert len(fixes) == 1 and next(iter(fixes)).startswith("In SendGrid, Settings > Sender Authentication")
    # Approving it changes who is named, not the verdict: an approved sender that fails still blocks.
    approved = {"example.net": ApprovedSenders(services=("Twilio SendGrid",))}
    (s,) = summarise(open_store(path), ["example.net"], approved=approved)
    assert [(b.sender, b.messages, b.approved) for b in s.readiness.blockers] == [("Twilio SendGrid", sendgrid, True)]
    assert s.readiness.recommendation.startswith("Not ready for p=reject: Twilio SendGrid")
    # Marked not ours, it is an impostor, and nothing that may be ours fails any more.
    not_ours = {"example.net": ApprovedSenders(not_ours=("Twilio SendGrid",))}
    (s,) = summarise(open_store(path), ["example.net"], approved=not_ours)
    r = s.readiness
    assert (r.blockers, r.recommendation) == ((), "Ready for p=reject: all legitimate mail passes DMARC with aligned DKIM")
    unauthorised = sum(n for (k, _), n in volumes["example.net"].items() if k == "unauthorised")
    assert r.impostors.messages == unauthorised + sendgrid
    assert {src.verdict for src in s.sources if src.service == "Twilio SendGrid"} == {"not ours"}


def test_what_receivers_already_do_to_impostors(samples, open_store):
    path, _, impostors = samples
    by_domain = {s.domain: s.readiness for s in summarise(open_store(path))}
    com = impostors["example.com"]
    assert com["none"] == 0  # the truth: receivers blocked every impostor message of example.com
    assert by_domain["example.com"].impostors.as_dict() == {
        "messages": sum(com.values()), "quarantined": com["quarantine"], "rejected": com["reject"], "delivered": 0}
    assert (f"All {sum(com.values())} impostor message(s) were already quarantined or rejected by receivers"
            in by_domain["example.com"].notes)
    net = impostors["example.net"]
    assert (f"Receivers quarantined {net['quarantine']} and rejected 0 of {sum(net.values())} impostor message(s); "
            f"{net['none']} were delivered; under p=reject receivers would be asked to reject them instead; mail "
            "from subdomains follows sp=none") in by_domain["example.net"].notes


def test_the_overview_puts_the_worst_domain_first(samples, open_store):
    path, volumes, _ = samples
    statuses = overview(summarise(open_store(path)))

    def at_risk(domain: str) -> int:  # misconfigured senders + legitimate mail that fails (mailing lists)
        v = volumes[domain]
        return sum(n for (k, sender), n in v.items() if k == "misconfigured" or sender.startswith("mailing list"))

    assert [(st.domain, st.at_risk) for st in statuses] == sorted(
        ((d, at_risk(d)) for d in volumes), key=lambda x: -x[1])
    assert [st.status for st in statuses] == [
        "at risk under p=reject: Amazon SES fails DKIM alignment",
        "not ready: Amazon SES fails DKIM alignment (+1 more)",
        "not ready: Twilio SendGrid fails DKIM alignment",
    ]


def test_mailing_lists_are_warned(samples, open_store):
    path, volumes, _ = samples
    (s,) = summarise(open_store(path), ["example.com"])
    lists = volumes["example.com"][("forwarded", "mailing list lists.pyusers.org")]
    assert s.readiness.mailing_list == lists
    assert (f"{lists} message(s) reached recipients through mailing lists, which break DKIM when they change "
            "messages: RFC 9989 warns against p=reject for domains whose users post to lists") in s.readiness.notes


@pytest.mark.parametrize("domain", ["example.com", "example.net", "example.org"])
def test_generated_datasets_name_every_misconfigured_sender(mixed, open_store, domain):
    dataset, path = mixed
    truth = source_truth(dataset, domain)
    wanted = Counter()
    for t in dataset.sources:
        if t.domain == domain and t.klass == "misconfigured":
            wanted[SERVICE[t.sender]] += truth[t.ip].messages
    (s,) = summarise(open_store(path), [domain])
    r = s.readiness
    assert [(b.sender, b.messages) for b in r.blockers] == sorted(wanted.items(), key=lambda x: (-x[1], x[0]))
    if wanted:
        assert not r.recommendation.lower().startswith("ready")
    prefix = {"Twilio SendGrid": "In SendGrid", "Intuit Mailchimp": "In Mailchimp", "Amazon SES": "In Amazon SES"}
    by_service: dict[str, set[str]] = {}
    for src in list_sources(open_store(path), domain, klass="misconfigured"):
        assert src.service in SERVICE.values() and src.pool == "shared"
        assert src.fix.startswith(prefix[src.service])
        by_service.setdefault(src.service, set()).add(src.ip)
    # The "To fix" list has one entry per sender, holding all its failing IPs.
    assert {(f.sender, f.service): set(f.ips) for f in s.to_fix} == {(name, name): ips for name, ips in by_service.items()}
    assert all(f.fix.startswith(prefix[f.service]) for f in s.to_fix)


AUTHORISED = dict(dkim=(("example.com", "pass"),), spf=("example.com", "pass"), evaluated=("pass", "pass"))
SPF_ONLY = dict(spf=("example.com", "pass"), evaluated=("fail", "pass"))


def test_p_reject_needs_aligned_dkim_on_every_legitimate_sender(db_path, open_store):
    records = [rec("198.51.100.1", 900, "example.com", **AUTHORISED), rec("203.0.113.7", 100, "example.com", **SPF_ONLY)]
    ingest_payloads(db_path, [feedback(records, domain="example.com", policy="<p>quarantine</p>")])
    (s,) = summarise(open_store(db_path), ["example.com"])
    assert s.readiness.recommendation == (
        "Not ready for p=reject: 203.0.113.7 (100 messages) pass(es) DMARC through SPF alone; RFC 9989 asks for "
        "aligned DKIM on every legitimate sender before p=reject")
    assert (s.status.status, s.status.severity) == ("not ready for p=reject: 203.0.113.7 has no aligned DKIM", "warning")


def test_from_p_none_spf_alone_is_ready_for_quarantine(db_path, open_store):
    records = [rec("198.51.100.1", 900, "example.com", **AUTHORISED), rec("203.0.113.7", 100, "example.com", **SPF_ONLY)]
    ingest_payloads(db_path, [feedback(records, domain="example.com", policy="<p>none</p>")])
    (s,) = summarise(open_store(db_path), ["example.com"])
    assert s.readiness.recommendation == "Ready for p=quarantine: all legitimate mail passes DMARC"


def test_t_y_means_not_enforced_yet(db_path, open_store, cli):
    policy = "<adkim>r</adkim><aspf>r</aspf><p>reject</p><testing>y</testing>"
    ingest_payloads(db_path, [feedback([rec("198.51.100.1", 90, "example.com", **AUTHORISED)],
                                       domain="example.com", policy=policy)])
    (s,) = summarise(open_store(db_path), ["example.com"])
    r = s.readiness
    assert (r.testing, r.target) == (True, "p=reject without t=y")
    assert r.recommendation == "Ready for p=reject without t=y: all legitimate mail passes DMARC with aligned DKIM"
    assert r.notes == ("p=reject is published with t=y (testing): receivers are asked not to enforce it yet",)
    assert s.status.status == "ready to enforce p=reject (remove t=y)"
    lines = cli("--db", db_path, "summary", "example.com").stdout.splitlines()
    assert lines[2] == "policy p=reject adkim=r aspf=r t=y (testing: not enforced yet)"


def test_not_ours_entries_take_the_approved_forms(db_path, open_store, tmp_path, cli):
    records = [rec("198.51.100.1", 900, "example.com", **AUTHORISED),
               rec("192.0.2.30", 40, "example.com", dkim=(("esp.example", "pass"),), spf=("esp.example", "pass")),
               rec("203.0.113.50", 20, "example.com", dkim=(("other.example", "pass"),), spf=("other.example", "pass"))]
    ingest_payloads(db_path, [feedback(records, domain="example.com")], {"203.0.113.50": "out.mailer.example"})
    approved = {"example.com": ApprovedSenders(not_ours=("192.0.2.0/24", "mailer.example"))}
    got = {s.ip: (s.not_ours_by, s.verdict, s.fix) for s in list_sources(open_store(db_path), "example.com",
                                                                         approved=approved)}
    assert got == {"198.51.100.1": (None, "ok", None),
                   "192.0.2.30": ("network 192.0.2.0/24", "not ours", None),
                   "203.0.113.50": ("service mailer.example", "not ours", None)}  # its sender name
    config = tmp_path / "dmarcflow.toml"
    for entry, message in [('["*.mailer.example"]', "'*.mailer.example' is not a sender name, a network or a domain "
                                                    "name (no wildcards or URLs)"),
                           ('["192.0.2.0/33"]', "'192.0.2.0/33' is not an IP network (use CIDR, e.g. 192.0.2.0/24)"),
                           ('[" "]', "an entry is empty (use a sender name, a network or a domain)")]:
        config.write_text(f'[approved."example.com"]\nnot_ours = {entry}\n')
        result = cli("--config", config, "--db", db_path, "summary")
        assert (result.exit_code, result.stderr) == (
            2, f'Error: configuration: [approved."example.com"] not_ours: {message}\n')
