"""config/docker/es-users.sh, the compose step that creates the daemon's least-privilege user.

Its requests go to Elasticsearch's security API, which needs x-pack: the test node (jars from Maven
Central) has none, so a loopback HTTP endpoint stands in and records what the script sends.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.compose import REPO

SCRIPT = REPO / "config" / "docker" / "es-users.sh"


class Recorder:
    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[str, str, str, object]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.requests.append((self.command, self.path, self.headers.get("Authorization", ""),
                                          json.loads(body)))
                answer = b'{"acknowledged":true}' if recorder.status < 300 else b'{"error":"security_exception"}'
                self.send_response(recorder.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_PUT = _handle  # noqa: N815 - the names http.server dispatches to

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    for name, value in (("elastic_password", 'el"astic\\pw'), ("kibana_system_password", "kibana-pw"),
                        ("dmarcflow_es_password", "dmarcflow-pw")):
        (tmp_path / name).write_text(value)
    return tmp_path


def _run(recorder: Recorder, secrets: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which("curl"), "curl is installed by scripts/install-system-deps.sh"
    env = {**os.environ, "ES_URL": recorder.url, "SECRETS_DIR": str(secrets), "DMARCFLOW_INDEX_PREFIX": "dmx"}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder(200)
    yield server
    server.close()


def test_kibana_password_role_on_its_own_indices_and_user(recorder: Recorder, secrets: Path) -> None:
    done = _run(recorder, secrets)
    assert (done.returncode, done.stderr) == (0, "")
    basic = "Basic " + base64.b64encode(b'elastic:el"astic\\pw').decode()
    assert recorder.requests == [
        ("POST", "/_security/user/kibana_system/_password", basic, {"password": "kibana-pw"}),
        ("PUT", "/_security/role/dmarcflow_writer", basic, {
            "cluster": ["monitor", "manage_index_templates"],
            "indices": [{"names": ["dmx-*"],
                         "privileges": ["create_doc", "create_index", "view_index_metadata", "read", "delete_index"]}],
        }),
        ("PUT", "/_security/user/dmarcflow", basic, {
            "password": "dmarcflow-pw", "roles": ["dmarcflow_writer"], "full_name": "dmarcflow daemon"}),
    ]
    assert done.stdout.splitlines() == [
        "es-users: POST /_security/user/kibana_system/_password: ok",
        "es-users: PUT /_security/role/dmarcflow_writer: ok",
        "es-users: PUT /_security/user/dmarcflow: ok",
    ]


def test_a_refusal_stops_the_step_with_the_answer_and_no_password(secrets: Path) -> None:
    recorder = Recorder(401)
    try:
        done = _run(recorder, secrets)
    finally:
        recorder.close()
    assert done.returncode == 1
    assert done.stderr == ('es-users: POST /_security/user/kibana_system/_password failed: '
                           '{"error":"security_exception"}\n')
    assert len(recorder.requests) == 1
    assert "pw" not in done.stdout + done.stderr
