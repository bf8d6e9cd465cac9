"""A token introspection endpoint (RFC 7662) on loopback, for Dovecot's oauth2 passdb in tests.

Dovecot 2.3 cannot check a bearer token by itself unless it is a signed JWT; with `introspection_mode = post`
it posts `token=<bearer>` to a URL and reads `active` and the username from the JSON answer.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

HOST = "127.0.0.1"
JOIN_TIMEOUT = 10.0


class IntrospectionServer:
    """An RFC 7662 token introspection endpoint on loopback that knows exactly one token."""

    def __init__(self, token: str, username: str) -> None:
        handler = _introspection_handler(token, username)
        self._httpd = ThreadingHTTPServer((HOST, 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}/introspect"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=JOIN_TIMEOUT)


def _introspection_handler(token: str, username: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            active = form.get("token") == [token]
            answer = {"active": True, "username": username} if active else {"active": False}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # requests carry the token: keep it out of test output

    return Handler
