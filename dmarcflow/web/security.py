"""Who may see the web UI, and the headers that keep a hostile report's text inert in the browser.

* Every response carries a strict Content-Security-Policy (no script at all, styles only from this
  server, no framing), ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.
* Served on a loopback address without a token, the ``Host`` header must name loopback too, so a web
  page elsewhere cannot reach this server through DNS rebinding.
* With an access token, each request must carry it as ``Authorization: Bearer TOKEN`` or hold the
  session cookie the login form sets (HttpOnly, SameSite=Strict; its value is an HMAC of the token,
  never the token itself). Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmarcflow.errors import ConfigError

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)
COOKIE = "dmarcflow_session"
PUBLIC_PATHS = ("/login", "/static/style.css")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"[web] token_file: cannot read {path}: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ConfigError(f"[web] token_file: {path} must hold one token of at least {MIN_TOKEN_LENGTH} characters "
                          "without spaces (e.g. the output of `openssl rand -hex 32`)")
    return token


@dataclass(frozen=True)
class Access:
    """What a request needs: the token (None: none), and the Host names accepted (None: any)."""

    token: str | None
    allowed_hosts: tuple[str, ...] | None

    @classmethod
    def for_bind(cls, host: str, token_file: str, insecure_no_auth: bool) -> Access:
        """The access rule for serving on ``host``; ConfigError when a network address has no token."""
        token = read_token(token_file) if token_file else None
        if is_loopback(host):
            return cls(token, None if token else LOOPBACK_NAMES + (host.strip("[]").lower(),))
        if token is None and not insecure_no_auth:
            raise ConfigError(
                f"serving on {host} (not a loopback address) needs an access token: set [web] token_file "
                "(or DMARCFLOW_WEB_TOKEN_FILE) to a file holding one, or pass --insecure-no-auth if a proxy "
                "in front already authenticates every request")
        return cls(token, None)

    def session_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), b"dmarcflow web session", hashlib.sha256).hexdigest()

    def token_matches(self, offered: str) -> bool:
        return self.token is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def allows(self, headers: Headers) -> bool:
        if self.token is None:
            return True
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and self.token_matches(auth[7:].strip()):
            return True
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.session_value().encode())


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def host_name(headers: Headers) -> str:
    """The Host header without its port (an IPv6 literal keeps no brackets)."""
    host = headers.get("host", "").strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware: the Host check, the access token, and the security headers on every response."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [h for h in message.get("headers", []) if h[0] not in dict(SECURITY_HEADERS)]
                message["headers"] += list(SECURITY_HEADERS)
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        allowed = self.access.allowed_hosts
        if allowed is not None and host_name(headers) not in allowed:
            return PlainTextResponse("Unexpected Host header: use http://127.0.0.1:PORT/ (or localhost).", 400)
        path: str = scope["path"]
        if path in PUBLIC_PATHS or self.access.allows(headers):
            return None
        if path.startswith("/api/"):
            return JSONResponse({"error": "an access token is needed: send Authorization: Bearer TOKEN"}, 401,
                                headers={"WWW-Authenticate": 'Bearer realm="dmarcflow"'})
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + ("?" + query if query else "")
        return RedirectResponse("/login?next=" + quote(target, safe=""), 303)


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
