"""The web application: routes, one read-only store connection per request, errors as pages.

Starlette, because it is a small, typed ASGI toolkit with no ORM, no form or session machinery we
would have to disable, and plain functions as endpoints; uvicorn serves it; Jinja2 renders the pages.
Endpoints are plain (not async) functions: Starlette runs them in its thread pool, so a slow SQLite
read never blocks the event loop.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from dmarcflow.config import ApprovedSenders
from dmarcflow.errors import StoreError
from dmarcflow.listing import rejected_raw
from dmarcflow.store import Store
from dmarcflow.store.readonly import open_readonly, snapshot
from dmarcflow.web import api, kinds, pages, posture
from dmarcflow.web.links import sources_table
from dmarcflow.web.params import ParamError, integer, read_query, report_status, text
from dmarcflow.web.render import Renderer, stylesheet
from dmarcflow.web.security import COOKIE, Access, Guard, safe_next

Handler = Callable[[Request], Response]
T = TypeVar("T")
_MAX_FORM_BYTES = 8192


class NotFound(Exception):
    """The page's subject (domain, source, report) has nothing in the store for this request."""


class WebApp:
    """Holds what every request needs; owns the template renderer (no module-level state)."""

    def __init__(self, db: Path, approved: Mapping[str, ApprovedSenders], access: Access) -> None:
        self.db = db
        self.approved = approved
        self.access = access
        self.renderer = Renderer()
        self.css = stylesheet().encode()
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dmarcflow-aside")

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """A read-only connection for one request, inside one read transaction (a consistent view)."""
        store = open_readonly(self.db)
        try:
            with snapshot(store):
                yield store
        finally:
            store.close()

    def aside(self, read: Callable[[Store], T]) -> Future[T]:
        """Run a read on its own read-only connection, while the request's thread does the main call."""
        def run() -> T:
            with self.reading() as store:
                return read(store)
        return self.pool.submit(run)

    def html(self, template: str, current: str, title: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        body = self.renderer.render(template, title=title, current=current, standalone=False,
                                    logout=self.access.token is not None, **context)
        return HTMLResponse(body, http_status)

    def error(self, http_status: int, heading: str, message: str) -> HTMLResponse:
        return self.html("error.html", "", heading, http_status, heading=heading, message=message)

    # ------------------------------------------------------------------ pages

    def overview(self, request: Request) -> Response:
        q = read_query(request.query_params)
        with self.reading() as store:
            context = pages.overview(store, self.approved, q, self.aside)
        return self.html("overview.html", "overview", "Overview", q=q, **context)

    def domain(self, request: Request) -> Response:
        q = read_query(request.query_params)
        name = request.path_params["domain"]
        with self.reading() as store:
            context = pages.domain_page(store, self.approved, q, name, self.aside)
            kinds_context = kinds.domain_kinds(store, q, name)
        if context is None:
            raise NotFound(f"No data for {name} in this period.")
        return self.html("domain.html", "overview", context["d"]["domain"], q=q,
                         **sources_table(q, context["d"]["domain"]), **context, **kinds_context)

    def source(self, request: Request) -> Response:
        q = read_query(request.query_params)
        name = request.path_params["domain"]
        ip, sender = text(request.query_params, "ip"), text(request.query_params, "sender")
        if (ip is None) == (sender is None):
            raise ParamError("give either ip=ADDRESS or sender=NAME")
        with self.reading() as store:
            context = pages.source_page(store, self.approved, q, name, ip=ip, sender=sender)
        if context is None:
            raise NotFound(f"No source {ip or sender} sending as {name} in this period.")
        return self.html("source.html", "overview", f"{ip or sender} for {name}", q=q, **context)

    def reports(self, request: Request) -> Response:
        q = read_query(request.query_params)
        domain, status = text(request.query_params, "domain"), report_status(request.query_params)
        with self.reading() as store:
            context = pages.reports_page(store, q, domain, status)

        def page_link(n: int) -> str:
            return q.period_link("/reports", domain=domain, status=status, page=n)

        return self.html("reports.html", "reports", "Reports", q=q, page_link=page_link, **context)

    def report(self, request: Request) -> Response:
        pk = request.path_params["id"]
        first = integer(request.query_params, "from", 0)
        with self.reading() as store:
            context = pages.report_page(store, pk, first)
        if context is None:
            raise NotFound(f"No report {pk} is stored.")
        return self.html("report.html", "reports", f"Report {pk}", **context)

    def posture(self, request: Request) -> Response:
        with self.reading() as store:
            context = posture.posture_overview(store)
        return self.html("dns.html", "posture", "DNS posture", **context)

    def posture_domain(self, request: Request) -> Response:
        with self.reading() as store:
            context = posture.posture_page(store, request.path_params["domain"])
        return self.html("dns_domain.html", "posture", f"DNS posture of {context['domain']}", **context)

    def tls(self, request: Request) -> Response:
        q = read_query(request.query_params)
        with self.reading() as store:
            context = kinds.tls_overview(store, q)
        return self.html("tls.html", "tls", "TLS reports", q=q, **context)

    def tls_domain(self, request: Request) -> Response:
        q = read_query(request.query_params)
        name = request.path_params["domain"]
        with self.reading() as store:
            context = kinds.tls_domain(store, q, name)
        if context is None:
            raise NotFound(f"No TLS reports for {name} in this period.")
        return self.html("tls_domain.html", "tls", f"TLS reports of {context['domain']}", q=q, **context)

    def failures(self, request: Request) -> Response:
        q = read_query(request.query_params)
        domain = text(request.query_params, "domain")
        with self.reading() as store:
            context = kinds.failures_page(store, self.approved, q, domain)

        def page_link(n: int) -> str:
            return q.period_link("/failures", domain=context["domain"], page=n)

        return self.html("failures.html", "failure", "Failure reports", q=q, page_link=page_link, **context)

    def failure(self, request: Request) -> Response:
        pk: int = request.path_params["id"]
        with self.reading() as store:
            context = kinds.failure_page(store, self.approved, pk)
        if context is None:
            raise NotFound(f"No failure report {pk} is stored.")
        return self.html("failure.html", "failure", f"Failure report {pk}", **context)

    def rejected(self, request: Request) -> Response:
        page = integer(request.query_params, "page", 1, minimum=1)
        with self.reading() as store:
            context = pages.rejected_page(store, page)
        return self.html("rejected.html", "rejected", "Rejected inputs",
                         page_link=lambda n: f"/rejected?page={n}", **context)

    # -------------------------------------------------------------- downloads

    def report_xml(self, request: Request) -> Response:
        pk: int = request.path_params["id"]
        # Copied out of the store here (memory up to 8 MiB, then a temporary file) and streamed from
        # the copy: the response is sent from other threads, and a SQLite connection stays in its own.
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed by the streamed response
        with self.reading() as store:
            stream = store.open_raw_xml(pk)
            if stream is None:
                spool.close()
                raise NotFound(f"No raw XML is kept for report {pk}.")
            with stream:
                shutil.copyfileobj(stream, spool, 1 << 16)
        spool.seek(0)

        def chunks() -> Iterator[bytes]:
            with spool:
                while chunk := spool.read(1 << 16):
                    yield chunk

        return StreamingResponse(chunks(), media_type="application/octet-stream",
                                 headers=_attachment(f"dmarcflow-report-{pk}.xml"))

    def rejected_raw(self, request: Request) -> Response:
        rid: int = request.path_params["id"]
        with self.reading() as store:
            data = rejected_raw(store, rid)
        if data is None:
            raise NotFound(f"No raw bytes are kept for rejected input {rid}.")
        return Response(data, media_type="application/octet-stream",
                        headers=_attachment(f"dmarcflow-rejected-{rid}.bin"))

    def style(self, request: Request) -> Response:
        return Response(self.css, media_type="text/css; charset=utf-8")

    # ------------------------------------------------------------------ login

    def login_form(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if self.access.token is None:
            return RedirectResponse(target, 303)
        return self.html("login.html", "", "Log in", next=target, failed=False)

    async def login(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM_BYTES:
                return self.error(413, "Too large", "The login form sends a token, nothing more.")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        target = safe_next(form.get("next"))
        if not self.access.token_matches(form.get("token", "").strip()):
            return self.html("login.html", "", "Log in", 401, next=target, failed=True)
        response = RedirectResponse(target, 303)
        response.set_cookie(COOKIE, self.access.session_value(), httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response

    def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response


def _attachment(name: str) -> dict[str, str]:
    """A download, never shown inline; the name is built from a number, never from report text."""
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _html_errors(app: WebApp, handler: Handler) -> Handler:
    @wraps(handler)
    def run(request: Request) -> Response:
        try:
            return handler(request)
        except (ParamError, ValueError) as exc:
            return app.error(400, "Bad request", str(exc))
        except NotFound as exc:
            return app.error(404, "Not found", str(exc))
        except StoreError as exc:
            return app.error(503, "Store unavailable", str(exc))
    return run


def _api_errors(handler: Handler) -> Handler:
    @wraps(handler)
    def run(request: Request) -> Response:
        try:
            return handler(request)
        except (ParamError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        except StoreError as exc:
            return JSONResponse({"error": str(exc)}, 503)
    return run


def create_app(db: Path, approved: Mapping[str, ApprovedSenders], access: Access) -> Starlette:
    app = WebApp(db, approved, access)
    answers = api.Api(app.reading, approved)

    def h(handler: Handler) -> Handler:
        return _html_errors(app, handler)

    routes = [
        Route("/", h(app.overview)),
        # path: a policy domain is report text and may hold a "/" (the source route must come first).
        Route("/domains/{domain:path}/source", h(app.source)),
        Route("/domains/{domain:path}", h(app.domain)),
        Route("/reports", h(app.reports)),
        Route("/reports/{id:int}", h(app.report)),
        Route("/reports/{id:int}/raw.xml", h(app.report_xml)),
        Route("/rejected", h(app.rejected)),
        Route("/dns", h(app.posture)),
        Route("/dns/{domain:path}", h(app.posture_domain)),
        Route("/rejected/{id:int}/raw", h(app.rejected_raw)),
        Route("/tls", h(app.tls)),
        Route("/tls/{domain:path}", h(app.tls_domain)),
        Route("/failures", h(app.failures)),
        Route("/failures/{id:int}", h(app.failure)),
        Route("/static/style.css", app.style),
        Route("/login", app.login_form, methods=["GET"]),
        Route("/login", app.login, methods=["POST"]),
        Route("/logout", app.logout, methods=["POST"]),
        Route("/api/summary", _api_errors(answers.summary)),
        Route("/api/senders/{domain:path}", _api_errors(answers.senders)),
        Route("/api/reports", _api_errors(answers.reports)),
        Route("/api/rejected", _api_errors(answers.rejected)),
        Route("/api/checks", _api_errors(answers.checks)),
        Route("/api/tls", _api_errors(answers.tls)),
        Route("/api/failures", _api_errors(answers.failures)),
        Route("/api/failures/{id:int}", _api_errors(answers.failure)),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, access=access)])
