"""`kibana import` never sends its credentials anywhere but --url, and fails on any answer but a 2xx.

Two real HTTP servers on loopback (Kibana itself cannot run here): the one --url names, which
redirects, and another host (127.0.0.2) or port, which records every request that reaches it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

IMPORT_PATH = "/api/saved_objects/_import?overwrite=true"
SUCCESS = {"success": True, "successCount": 8}


class Endpoint:
    """An HTTP server that answers each request with the next (status, headers, body) and records what it got."""

    def __init__(self, host: str) -> None:
        self.answers: list[tuple[int, dict[str, str], dict]] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                endpoint.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, headers, body = endpoint.answers.pop(0) if endpoint.answers else (200, {}, SUCCESS)
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Endpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kibana() -> Iterator[Endpoint]:
    with Endpoint("127.0.0.1") as endpoint:
        yield endpoint


@pytest.fixture(params=["127.0.0.2", "127.0.0.1"], ids=["other-host", "other-port"])
def elsewhere(request) -> Iterator[Endpoint]:
    with Endpoint(request.param) as endpoint:
        yield endpoint


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_or_port_is_not_followed(cli, kibana, elsewhere, code):
    target = f"{elsewhere.url}{IMPORT_PATH}"
    kibana.answers.append((code, {"Location": target}, {}))
    result = cli("kibana", "import", "--url", kibana.url, "--username", "elastic", "--password", "s3cret")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: Kibana at {kibana.url} answered HTTP {code}, a redirect to {elsewhere.url}/api/saved_objects/_import: "
        "not followed, so that the credentials are sent nowhere else; give --url the address Kibana itself answers on\n")
    assert elsewhere.seen == []
    ((method, path, headers),) = kibana.seen
    assert (method, path, headers["authorization"]) == ("POST", IMPORT_PATH, "Basic ZWxhc3RpYzpzM2NyZXQ=")


def test_a_relative_redirect_is_not_followed_either(cli, kibana):
    kibana.answers.append((302, {"Location": "/login?next=%2Fapp"}, {}))
    result = cli("kibana", "import", "--url", kibana.url, "--api-key", "abc")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Kibana at {kibana.url} answered HTTP 302, a redirect to {kibana.url}/login: ")
    assert [(m, p) for m, p, _ in kibana.seen] == [("POST", IMPORT_PATH)]


@pytest.mark.parametrize(("code", "hint"), [(404, ""), (500, ""), (403, " (check --username/--password or --api-key)")])
def test_a_final_answer_that_is_not_2xx_fails(cli, kibana, code, hint):
    kibana.answers.append((code, {}, {"statusCode": code}))
    result = cli("kibana", "import", "--url", kibana.url)
    assert (result.exit_code, result.stderr) == (
        1, f'Error: Kibana at {kibana.url} answered HTTP {code}{hint}: {{"statusCode": {code}}}\n')


def test_a_2xx_success_is_reported(cli, kibana):
    result = cli("kibana", "import", "--url", kibana.url, "--api-key", "abc")
    assert (result.exit_code, result.stdout) == (0, f"imported 8 saved object(s) into {kibana.url}\n")
    assert kibana.seen[0][2]["authorization"] == "ApiKey abc"
