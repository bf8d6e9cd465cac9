"""`summary` starts with an overview, worst first; names are never cut; JSON keeps its shape."""

from __future__ import annotations

import pytest

from dmarcflow.analysis import summarise

OVERVIEW = """\
Overview (3 domain(s), worst first)
domain       messages    pass  status
-----------  --------  ------  -------------------------------------------------
example.com     5,279   78.1%  at risk under p=reject: Amazon SES fails DKIM
                               alignment
example.org     5,812   91.3%  not ready: Amazon SES fails DKIM alignment (+1
                               more)
example.net     5,541   91.0%  not ready: Twilio SendGrid fails DKIM alignment
"""


def test_summary_starts_with_the_overview(samples, cli):
    path = samples[0]
    result = cli("--db", path, "summary")
    assert result.exit_code == 0
    assert result.stdout.startswith(OVERVIEW + "\nexample.com: 5,279 messages in 7 report(s)")
    details = [line.split(":")[0] for line in result.stdout.splitlines() if " messages in " in line]
    assert details == ["example.com", "example.org", "example.net"]


def test_named_domains_keep_their_order(samples, cli, run_json):
    path = samples[0]
    result = cli("--db", path, "summary", "example.net", "example.com")
    assert result.stdout.splitlines()[0] == "Overview (2 domain(s))"
    assert cli("--db", path, "summary", "example.net").stdout.startswith("example.net: 5,541 messages")
    out = run_json("--db", path, "summary", "example.net", "example.com", "--format", "json")
    assert [d["domain"] for d in out["domains"]] == ["example.net", "example.com"]


def test_json_is_worst_first_with_a_status(samples, run_json, open_store):
    path = samples[0]
    out = run_json("--db", path, "summary", "--format", "json")
    assert list(out) == ["domains"]
    assert [(d["domain"], d["status"], d["severity"], d["at_risk_messages"], d["impostor_messages"])
            for d in out["domains"]] == [
        ("example.com", "at risk under p=reject: Amazon SES fails DKIM alignment", "critical", 959, 197),
        ("example.org", "not ready: Amazon SES fails DKIM alignment (+1 more)", "critical", 388, 120),
        ("example.net", "not ready: Twilio SendGrid fails DKIM alignment", "critical", 368, 132),
    ]
    assert out == {"domains": [s.as_dict() for s in summarise(open_store(path), order="worst")]}
    net = out["domains"][2]
    (sendgrid,) = {s["sender"] for s in net["to_fix"]}
    assert sendgrid == "Twilio SendGrid"
    for src in net["to_fix"]:
        assert (src["service"], src["pool"], src["approve_with"]) == (
            "Twilio SendGrid", "shared", 'services = ["Twilio SendGrid"]')
        assert src["fix"].startswith("In SendGrid, Settings > Sender Authentication > Authenticate Your Domain: "
                                     "enter example.net")


GOOGLE = "Google (Including Gmail and Google Workspace)"


@pytest.mark.parametrize("command", [["summary"], ["senders", "example.org"], ["summary", "--view", "sender"],
                                     ["senders", "example.org", "--view", "sender"]])
def test_names_are_wrapped_never_cut(samples, cli, command):
    path = samples[0]
    narrow = cli("--db", path, *command).stdout
    assert "…" not in narrow
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert not any(GOOGLE in line for line in narrow.splitlines())  # wrapped inside its column ...
    assert "Google (Including Gmail and" in narrow and "Google Workspace)" in narrow  # ... but whole
    wide = cli("--db", path, *command, "--wide").stdout
    assert any(GOOGLE in line for line in wide.splitlines())
    assert max(len(line) for line in wide.splitlines()) > 80


def test_senders_prints_the_lines_that_approve_an_unlisted_sender(samples, cli):
    path = samples[0]
    lines = cli("--db", path, "senders", "example.net", "--class", "misconfigured").stdout.splitlines()
    at = lines.index("    to approve it, add under [approved.\"example.net\"]:")
    assert lines[at:at + 4] == ['    to approve it, add under [approved."example.net"]:',
                                '      services = ["Twilio SendGrid"]',
                                "    if it is not yours, add there instead:",
                                '      not_ours = ["Twilio SendGrid"]']
    assert any(line.startswith("    fix: In SendGrid, Settings > Sender Authentication") for line in lines)
