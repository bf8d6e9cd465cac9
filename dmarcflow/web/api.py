"""The JSON API: each endpoint answers the same question as one CLI command, with the same library call
and the same serialiser (dmarcflow/answers.py), so its body is byte for byte that command's stdout.

    GET /api/summary?domain=D&since=&until=&view=&top=   dmarcflow summary [D...] --format json ...
    GET /api/senders/D?class=&since=&until=&view=         dmarcflow senders D --format json ...
    GET /api/reports?domain=&status=&since=&until=&limit=&offset=   dmarcflow reports --format json ...
    GET /api/rejected?limit=&offset=                      dmarcflow rejected --format json ...
    GET /api/checks?domain=D&domain=E                     dmarcflow check --cached [D E] --format json
    GET /api/tls?domain=D&domain=E&since=&until=          dmarcflow tls summary [D E] --format json ...
    GET /api/failures?domain=D&since=&until=&limit=&offset=   dmarcflow failures [D] --format json ...
    GET /api/failures/ID                                  dmarcflow failures --id ID --format json
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dmarcflow.analysis import list_sources, summarise
from dmarcflow.analysis.failures import failure_detail, list_failures
from dmarcflow.analysis.tls import summarise_tls
from dmarcflow.answers import checks_answer, failures_answer, rows_answer, senders_answer, summary_answer, tls_answer, to_json
from dmarcflow.check import domain_name, read_cached
from dmarcflow.config import ApprovedSenders
from dmarcflow.listing import list_rejected, list_reports
from dmarcflow.store import Store
from dmarcflow.web.params import integer, optional_integer, read_query, report_status, text

Reading = Callable[[], AbstractContextManager[Store]]


def json_response(data: Any) -> Response:
    # The CLI prints to_json(...) and a newline: the same bytes here.
    return Response(to_json(data) + "\n", media_type="application/json")


class Api:
    def __init__(self, reading: Reading, approved: Mapping[str, ApprovedSenders]) -> None:
        self.reading = reading
        self.approved = approved

    def summary(self, request: Request) -> Response:
        q = read_query(request.query_params)
        domains = [d for d in request.query_params.getlist("domain") if d.strip()]
        top = integer(request.query_params, "top", 10)
        with self.reading() as store:
            # The CLI's order: worst first (analysis.overview) when no domain is named, else as named.
            result = summarise(store, domains, q.since, q.until, self.approved, view=q.view, top=top,
                               order="name" if domains else "worst")
        return json_response(summary_answer(result))

    def senders(self, request: Request) -> Response:
        q = read_query(request.query_params)
        domain = request.path_params["domain"]
        with self.reading() as store:
            sources = list_sources(store, domain, q.since, q.until, self.approved, q.klass, q.view)
        return json_response(senders_answer(domain, sources))

    def reports(self, request: Request) -> Response:
        q = read_query(request.query_params)
        params = request.query_params
        with self.reading() as store:
            rows = list_reports(store, text(params, "domain"), q.since, q.until, report_status(params),
                                limit=optional_integer(params, "limit"), offset=integer(params, "offset", 0))
        return json_response(rows_answer(rows))

    def rejected(self, request: Request) -> Response:
        params = request.query_params
        with self.reading() as store:
            rows = list_rejected(store, limit=optional_integer(params, "limit"), offset=integer(params, "offset", 0))
        return json_response(rows_answer(rows))

    def checks(self, request: Request) -> Response:
        # The command's domain names, checked and normalised as it does: a bad one is a 400 with its message.
        domains = [domain_name(d) for d in request.query_params.getlist("domain") if d.strip()]
        with self.reading() as store:
            found = read_cached(store, domains)
        return json_response(checks_answer(found.checks))

    def tls(self, request: Request) -> Response:
        q = read_query(request.query_params)
        domains = [d for d in request.query_params.getlist("domain") if d.strip()]
        with self.reading() as store:
            result = summarise_tls(store, domains, q.since, q.until)
        return json_response(tls_answer(result))

    def failures(self, request: Request) -> Response:
        q = read_query(request.query_params)
        params = request.query_params
        with self.reading() as store:
            listing = list_failures(store, text(params, "domain"), q.since, q.until, self.approved,
                                    limit=integer(params, "limit", 0), offset=integer(params, "offset", 0))
        return json_response(failures_answer(listing))

    def failure(self, request: Request) -> Response:
        pk: int = request.path_params["id"]
        with self.reading() as store:
            detail = failure_detail(store, pk, self.approved)
        if detail is None:
            return JSONResponse({"error": f"no failure report {pk} is stored"}, 404)
        return json_response(detail)
