"""The Dovecot test harness itself: a real server, real TLS, real logins, real Maildir."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError

from tests.support.dovecot import (
    DovecotError,
    DovecotServer,
    Layout,
    group_members,
    launch,
    pick_ports,
    wait_ready,
)

FIRST = b"From: a@example.com\r\nTo: dmarc@example.net\r\nSubject: first\r\n\r\nbody one\r\n"
SECOND = b"From: b@example.com\r\nTo: dmarc@example.net\r\nSubject: second\r\n\r\nbody two\r\n.\r\n"


@pytest.fixture(scope="module")
def server() -> Iterator[DovecotServer]:
    with DovecotServer() as running:
        yield running


def test_plain_login(server: DovecotServer) -> None:
    with IMAPClient(server.host, port=server.port, ssl=False, timeout=10) as client:
        assert client.login(server.user, server.password) == b"Logged in"


def test_starttls_login_verifies_the_server_certificate(server: DovecotServer) -> None:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with IMAPClient(server.host, port=server.port, ssl=False, timeout=10) as client:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(context)
        assert client.login(server.user, server.password) == b"Logged in"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_implicit_tls_login_verifies_the_server_certificate(server: DovecotServer, host: str) -> None:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with IMAPClient(host, port=server.tls_port, ssl=True, ssl_context=context, timeout=10) as client:
        assert client.login(server.user, server.password) == b"Logged in"


def test_certificate_from_another_ca_is_rejected(server: DovecotServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(server.host, port=server.tls_port, ssl=True, ssl_context=ssl.create_default_context())


def test_wrong_password_raises_login_error(server: DovecotServer) -> None:
    with server.connect("tls", login=False) as client:
        with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            client.login(server.user, "not-the-password")


@pytest.mark.parametrize("mode", ["plain", "starttls", "tls"])
def test_capabilities_after_login(server: DovecotServer, mode: str) -> None:
    with server.connect(mode) as client:
        assert {b"MOVE", b"IDLE", b"UIDPLUS"} - set(client.capabilities()) == set()


def test_appended_messages_read_back_exactly(server: DovecotServer) -> None:
    server.append("Reports", FIRST)
    server.append("Reports", SECOND)
    assert server.list_messages("Reports") == [FIRST, SECOND]
    assert server.folder_counts()["Reports"] == 2


def test_empty_folder_lists_no_messages(server: DovecotServer) -> None:
    assert server.list_messages("INBOX") == []


def test_restart_keeps_mail_and_ports() -> None:
    with DovecotServer() as server:
        server.append("INBOX", FIRST)
        server.append("Archive/2024", SECOND)
        ports = (server.port, server.tls_port)
        server.restart()
        assert (server.port, server.tls_port) == ports
        assert server.folder_counts() == {"INBOX": 1, "Archive/2024": 1}
        assert server.list_messages("Archive/2024") == [SECOND]


def test_stop_leaves_no_process_and_no_files() -> None:
    server = DovecotServer().start()
    master, root = server.pid, server.log_path.parent
    assert master is not None and master in group_members(master)
    server.stop()
    assert group_members(master) == []
    assert not root.exists()


def test_two_instances_run_side_by_side() -> None:
    with DovecotServer() as one, DovecotServer(user="other", password="secret") as two:
        one.append("INBOX", FIRST)
        two.append("INBOX", SECOND)
        assert {one.port, one.tls_port}.isdisjoint({two.port, two.tls_port})
        assert (one.list_messages("INBOX"), two.list_messages("INBOX")) == ([FIRST], [SECOND])


def test_hidden_move_and_idle_capabilities() -> None:
    with DovecotServer(hide_capabilities={"MOVE", "IDLE"}) as server:
        server.append("INBOX", FIRST)
        with server.connect() as client:
            capabilities = set(client.capabilities())
            client.select_folder("INBOX")
            with pytest.raises(CapabilityError, match="MOVE"):
                client.move([1], "Archive")
            with pytest.raises(CapabilityError, match="IDLE"):
                client.idle()
        assert {b"MOVE", b"IDLE"} & capabilities == set()
        assert {b"UIDPLUS", b"ESEARCH"} - capabilities == set()


def test_xoauth2_and_oauthbearer_accept_only_the_configured_token() -> None:
    with DovecotServer(oauth2_token="test-token-1") as server:
        with server.connect(login=False) as client:
            assert {b"AUTH=XOAUTH2", b"AUTH=OAUTHBEARER"} - set(client.capabilities()) == set()
            assert client.oauth2_login(server.user, "test-token-1") == [b"Logged in"]
        with server.connect(login=False) as client:
            assert client.oauthbearer_login(server.user, "test-token-1") == [b"Logged in"]
        with server.connect(login=False) as client, pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            client.oauth2_login(server.user, "another-token")
        with server.connect() as client:
            assert client.folder_exists("INBOX")


def test_startup_failure_reports_the_log_tail(tmp_path: Path) -> None:
    layout = Layout.under(tmp_path)
    layout.config.write_text(f"base_dir = {tmp_path}\nno_such_setting = 1\n")
    daemon = launch(layout)
    with pytest.raises(DovecotError, match="Unknown setting: no_such_setting"):
        wait_ready(daemon, layout, pick_ports())


def test_failed_start_leaves_no_files(monkeypatch: pytest.MonkeyPatch) -> None:
    # A user name Dovecot's passwd-file cannot hold makes every login fail, so the capability probe fails.
    server = DovecotServer(user="bad:name", hide_capabilities={"MOVE"})
    created: list[Path] = []
    original = Layout.under

    def recording_under(root: Path) -> Layout:
        created.append(root)
        return original(root)

    monkeypatch.setattr(Layout, "under", recording_under)
    with pytest.raises(LoginError):
        server.start()
    assert server.pid is None
    assert [root.exists() for root in created] == [False]
