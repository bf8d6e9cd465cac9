"""`dmarcflow serve` as a user runs it (a real process), and the start-up cost of `dmarcflow --help`."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_answers_and_stops_on_sigterm(sample_db):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dmarcflow", "--db", str(sample_db), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/reports?limit=1", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
                time.sleep(0.2)
        assert response.status_code == 200 and len(response.json()) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"Uvicorn running on http://127.0.0.1:{port}" in err


def test_serve_on_a_network_address_without_a_token_is_refused(cli, sample_db):
    result = cli("--db", sample_db, "serve", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: configuration: serving on 0.0.0.0 (not a loopback address) needs an access token")


def test_serve_without_a_store_says_so(cli, tmp_path):
    result = cli("--db", tmp_path / "none.sqlite", "serve")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: no store at {tmp_path / 'none.sqlite'}: check --db, DMARCFLOW_DB or [store] path; "
                             "a store is created by the first `dmarcflow ingest`, `fetch` or `watch`\n")
    assert not (tmp_path / "none.sqlite").exists()


def test_help_does_not_import_the_web_stack():
    code = ("import sys; from dmarcflow.cli import main\n"
            "try: main(['--help'])\n"
            "except SystemExit: pass\n"
            "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "serve" in done.stdout and "report" in done.stdout
