"""/api/ answers are byte for byte the CLI's --format json stdout for the same question, and match the known truth."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import json

import httpx
import pytest

from dmarcflow.models import SOURCE_CLASSES
from tests.support.analysis_data import in_window


def api(server, path, params=()):
    response = httpx.get(server.url(path) + ("?" + urlencode(list(params)) if params else ""), timeout=60)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    return response.text


def cli_stdout(cli, db, *args):
    result = cli("--db", db, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return result.stdout


SUMMARY_QUESTIONS = [
    ((), ()),
    ((("since", "2026-03-05"),), ("--since", "2026-03-05")),
    ((("since", "2026-03-03"), ("until", "2026-03-09"), ("view", "sender"), ("top", "0")),
     ("--since", "2026-03-03", "--until", "2026-03-09", "--view", "sender", "--top", "0")),
    ((("domain", "example.org"), ("domain", "example.com"), ("top", "3")), ("example.org", "example.com", "--top", "3")),
    ((("domain", "nothing.example"),), ("nothing.example",)),
    ((("since", "30d"),), ("--since", "30d")),
]


@pytest.mark.parametrize("params, args", SUMMARY_QUESTIONS)
def test_api_summary_is_the_cli_summary(serve, mixed_db, cli, params, args):
    assert api(serve(mixed_db), "/api/summary", params) == cli_stdout(cli, mixed_db, "summary", *args)


@pytest.mark.parametrize("params, args", [
    ((), ()),
    ((("class", "unauthorised"),), ("--class", "unauthorised")),
    ((("view", "sender"), ("since", "2026-03-04"), ("until", "2026-03-10")),
     ("--view", "sender", "--since", "2026-03-04", "--until", "2026-03-10")),
])
@pytest.mark.parametrize("domain", ["example.com", "example.net", "Example.ORG.", "nothing.example"])
def test_api_senders_is_the_cli_senders(serve, mixed_db, cli, domain, params, args):
    assert api(serve(mixed_db), f"/api/senders/{quote(domain)}", params) == cli_stdout(cli, mixed_db, "senders", domain, *args)


@pytest.mark.parametrize("params, args", [
    ((), ()),
    ((("domain", "example.net"), ("limit", "5"), ("offset", "2")), ("--domain", "example.net", "--limit", "5", "--offset", "2")),
    ((("since", "2026-03-04"), ("until", "2026-03-06"), ("status", "active")),
     ("--since", "2026-03-04", "--until", "2026-03-06", "--status", "active")),
])
def test_api_reports_is_the_cli_reports(serve, mixed_db, cli, params, args):
    assert api(serve(mixed_db), "/api/reports", params) == cli_stdout(cli, mixed_db, "reports", *args)


@pytest.mark.parametrize("params, args", [((), ()), ((("limit", "1"),), ("--limit", "1")), ((("offset", "1"),), ("--offset", "1"))])
def test_api_rejected_and_conflicts_are_the_cli_listings(serve, hostile_db, cli, params, args):
    server = serve(hostile_db)
    assert api(server, "/api/rejected", params) == cli_stdout(cli, hostile_db, "rejected", *args)
    assert api(server, "/api/reports", (("status", "conflict"),)) == cli_stdout(cli, hostile_db, "reports", "--status", "conflict")


@pytest.mark.parametrize("first, last", [(None, None), ("2026-03-04", "2026-03-10")])
def test_api_summary_figures_are_the_generated_truth(serve, mixed, mixed_db, first, last):
    params = [("top", "0")] + ([("since", first), ("until", last)] if first else [])
    answer = json.loads(api(serve(mixed_db), "/api/summary", params))
    truth = in_window(mixed, first, last)
    got = {d["domain"]: (d["messages"], d["dmarc_pass"], d["classes"]) for d in answer["domains"]}
    want = {}
    for domain in truth.domains:
        f = truth.figures(domain)
        if f.messages:
            want[domain] = (f.messages, f.dmarc_pass, {k: f.classes.get(k, 0) for k in SOURCE_CLASSES})
    assert got == want


@pytest.mark.parametrize("path, message", [
    ("/api/summary?since=soon", "since: 'soon' is not a date (use YYYY-MM-DD, UTC)"),
    ("/api/summary?top=-1", "top: '-1' is not a whole number from 0 to 1000000"),
    ("/api/senders/example.com?class=nope", "class: 'nope' is not one of authorised, forwarded, misconfigured, unauthorised"),
    ("/api/reports?limit=x", "limit: 'x' is not a whole number from 0 to 1000000"),
])
def test_api_bad_parameters_are_400_with_the_reason(serve, mixed_db, path, message):
    response = httpx.get(serve(mixed_db).url(path))
    assert (response.status_code, response.json()) == (400, {"error": message})
