"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and a webhook receiver.

SmtpServer modes: "none" (plain), "starttls" (STARTTLS required, certificate from a CA made here), "ssl"
(implicit TLS). With a password, AUTH PLAIN/LOGIN is required and checked; with an oauth2 token, XOAUTH2 too.
WebhookReceiver: http.server on loopback recording each POST (headers and raw body); it can be told to
answer an error status, or be stopped and started again on the same port.
"""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.dovecot import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class CertAuthority:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_test_ca(folder: Path) -> CertAuthority:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1 signed by it (openssl)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = CertAuthority(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca_key = folder / "ca.key"
    common = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    _openssl("req", "-x509", *common, "-subj", "/CN=dmarcflow smtp test CA", "-keyout", str(ca_key), "-out", str(ca.ca_cert))
    _openssl("req", "-x509", *common, "-subj", "/CN=localhost", "-CA", str(ca.ca_cert), "-CAkey", str(ca_key),
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "extendedKeyUsage=serverAuth", "-keyout", str(ca.server_key), "-out", str(ca.server_cert))
    return ca


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"openssl {args[0]} failed: {done.stderr}"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        # The wire format ends lines with CRLF; parsed as LF so that texts compare as written.
        return email.message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=email.policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        data = session.auth_data
        login = data.login.decode() if isinstance(data, LoginPassword) else None
        with self.server.lock:
            self.server.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                                 bytes(envelope.original_content or b""), login))
        return "250 OK"

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        text = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        expected = f"user={self.server.user}\x01auth=Bearer {self.server.oauth2_token}\x01\x01"
        if self.server.oauth2_token and text == expected:
            return AuthResult(success=True, auth_data=LoginPassword(self.server.user.encode(), b""))
        return AuthResult(success=False, handled=False)


@dataclass
class SmtpServer:
    mode: str = "none"  # none | starttls | ssl
    ca: CertAuthority | None = None
    user: str = "mailer"
    password: str | None = None  # set: AUTH required
    oauth2_token: str | None = None
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == self.user and data.password.decode() == self.password
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def start(self) -> SmtpServer:
        needs_auth = self.password is not None or self.oauth2_token is not None
        # Under implicit TLS aiosmtpd does not see the TLS layer itself, so it must not insist on STARTTLS.
        kwargs: dict[str, Any] = {"auth_required": needs_auth, "auth_require_tls": self.mode == "starttls"}
        if self.password is not None:
            kwargs["authenticator"] = self._authenticate
        if self.mode == "starttls":
            assert self.ca is not None
            kwargs.update(tls_context=self.ca.server_context(), require_starttls=True)
        elif self.mode == "ssl":
            assert self.ca is not None
            kwargs["ssl_context"] = self.ca.server_context()
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port, server_hostname="localhost", **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Records POSTs; ``status`` is what it answers (200 unless told otherwise)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[Request] = []
        self.status = 200
        self.location = ""  # sent with a 3xx status
        self.lock = threading.Lock()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status, location = receiver.status, receiver.location
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._httpd = http.server.ThreadingHTTPServer((HOST, self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self) -> list[Request]:
        with self.lock:
            return list(self.requests)
