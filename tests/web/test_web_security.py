"""Who may see the UI, the headers on every response, inert hostile text, and a store left untouched."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time

import httpx
import pytest

from dmarcflow.errors import ConfigError
from dmarcflow.store.schema import MIGRATIONS
from dmarcflow.web.security import CSP, Access, safe_next
from tests.support.web import HOSTILE_DOMAIN, HOSTILE_ORG, HOSTILE_REPORT_ID, IMG, SCRIPT, SVG

TOKEN = "s3cret-token-0123456789abcdef"
PATHS = ["/", "/reports", "/reports/1", "/rejected", "/dns", "/dns/example.com", "/api/summary", "/api/reports",
         "/api/checks", "/static/style.css", "/no/such/page", "/reports/1/raw.xml", "/rejected/1/raw"]


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("token") / "web-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(serve, hostile_db, path):
    response = httpx.get(serve(hostile_db).url(path))
    assert response.status_code in (200, 404)
    assert (response.headers["content-security-policy"], response.headers["x-content-type-options"],
            response.headers["x-frame-options"], response.headers["referrer-policy"]) == (CSP, "nosniff", "DENY", "no-referrer")
    assert "script-src" not in CSP and "frame-ancestors 'none'" in CSP and "default-src 'none'" in CSP


def test_a_foreign_host_header_is_refused_on_loopback(serve, hostile_db):
    server = serve(hostile_db)
    assert httpx.get(server.url("/"), headers={"Host": "attacker.example"}).status_code == 400
    assert httpx.get(server.url("/"), headers={"Host": f"localhost:{server.port}"}).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "dmarc.example.net"])
def test_a_network_address_needs_a_token_or_an_explicit_opt_out(host, token_file):
    with pytest.raises(ConfigError) as info:
        Access.for_bind(host, "", insecure_no_auth=False)
    assert str(info.value).startswith(f"serving on {host} (not a loopback address) needs an access token: set [web] token_file")
    assert Access.for_bind(host, "", insecure_no_auth=True) == Access(None, None)
    assert Access.for_bind(host, str(token_file), insecure_no_auth=False) == Access(TOKEN, None)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_token_but_checks_the_host_header(host):
    access = Access.for_bind(host, "", insecure_no_auth=False)
    assert access.token is None and "127.0.0.1" in access.allowed_hosts and "localhost" in access.allowed_hosts


def test_a_short_token_file_is_a_config_error(tmp_path):
    (tmp_path / "t").write_text("short\n")
    with pytest.raises(ConfigError, match="must hold one token of at least 16 characters"):
        Access.for_bind("0.0.0.0", str(tmp_path / "t"), insecure_no_auth=False)
    with pytest.raises(ConfigError, match="cannot read"):
        Access.for_bind("0.0.0.0", str(tmp_path / "missing"), insecure_no_auth=False)


def test_token_bearer_login_cookie_and_logout(serve, sample_db):
    server = serve(sample_db, Access(TOKEN, None))
    assert httpx.get(server.url("/api/summary")).status_code == 401
    assert httpx.get(server.url("/api/summary"), headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
    assert httpx.get(server.url("/api/summary"), headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    page = httpx.get(server.url("/reports?page=1"))
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Freports%3Fpage%3D1")
    assert httpx.get(server.url("/static/style.css")).status_code == 200
    with httpx.Client(base_url=server.url("")) as client:
        bad = client.post("/login", data={"token": "nope", "next": "/reports"})
        assert bad.status_code == 401 and "That token is not right." in bad.text and not client.cookies
        good = client.post("/login", data={"token": TOKEN, "next": "/reports?page=1"})
        assert (good.status_code, good.headers["location"]) == (303, "/reports?page=1")
        cookie = good.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and TOKEN not in cookie
        assert client.get("/reports").status_code == 200
        assert client.post("/logout").status_code == 303
        assert client.get("/reports").status_code == 303


@pytest.mark.parametrize("value, expected", [
    ("/reports?page=2", "/reports?page=2"), ("//evil.example/", "/"), ("https://evil.example/", "/"),
    ("/\\evil.example", "/"), (None, "/"), ("reports", "/"),
])
def test_login_redirects_only_to_this_server(value, expected):
    assert safe_next(value) == expected


HOSTILE_PAGES = ["/", "/reports", "/reports/1", "/reports/2", "/rejected", "/domains/{d}", "/domains/{d}?view=sender",
                 "/domains/{d}/source?ip=198.51.100.9", "/domains/{d}/source?sender=attacker.example"]


@pytest.mark.parametrize("path", HOSTILE_PAGES)
def test_hostile_report_text_is_escaped_everywhere(serve, hostile_db, path):
    from urllib.parse import quote

    response = httpx.get(serve(hostile_db).url(path.format(d=quote(HOSTILE_DOMAIN))))
    assert response.status_code == 200, response.text[:300]
    body = response.text
    for raw in (SCRIPT, IMG, SVG, "<script", "onerror=alert(1)>", "<svg onload"):
        assert raw not in body
    assert "<script" not in body.lower()
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in body


def test_the_hostile_values_reach_the_pages_as_text(serve, hostile_db):
    import lxml.html

    server = serve(hostile_db)
    detail = lxml.html.fromstring(httpx.get(server.url("/reports/1")).text)
    assert detail.xpath("string(//*[@data-field='org_name'])") == HOSTILE_ORG
    assert detail.xpath("string(//*[@data-field='report_id'])") == HOSTILE_REPORT_ID
    assert SVG in detail.text_content()  # the reason comment
    overview = lxml.html.fromstring(httpx.get(server.url("/")).text)
    assert overview.xpath("//tr/@data-domain") == [HOSTILE_DOMAIN]


def test_the_server_never_writes_and_reads_while_a_writer_holds_the_lock(serve, tmp_path, sample_db):
    import shutil

    db = tmp_path / "copy.sqlite"
    shutil.copy(sample_db, db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    server = serve(db)
    for path in ("/", "/reports", "/reports/1", "/rejected", "/api/summary"):
        assert httpx.get(server.url(path)).status_code == 200
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE reports SET org_name = org_name")
    started = time.monotonic()
    assert httpx.get(server.url("/api/summary"), timeout=10).status_code == 200  # not blocked by the writer
    assert time.monotonic() - started < 10
    writer.execute("ROLLBACK")
    writer.close()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_an_unmigrated_or_missing_store_is_a_503_that_says_what_to_do(serve, tmp_path):
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    conn.close()
    response = httpx.get(serve(old).url("/"))
    assert response.status_code == 503
    assert (f"has schema version {len(MIGRATIONS) - 1}, this dmarcflow needs {len(MIGRATIONS)}: "
            "run a command that writes to it once (ingest, fetch or watch)") in response.text
    response = httpx.get(serve(tmp_path / "none.sqlite").url("/api/summary"))
    assert response.status_code == 503 and response.json()["error"].startswith("no store at ")
