"""dmarcflow.mailbox against a real Dovecot: TLS modes, logins (password and XOAUTH2), move fallbacks."""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from dmarcflow.config import MailboxSettings
from dmarcflow.daemon import Backoff
from dmarcflow.errors import ConfigError, MailboxError
from dmarcflow.mailbox import Mailbox, MailboxAuthError, check_settings, oauth2_token, plan_batches
from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import plain_mail


@pytest.fixture(scope="module")
def server(dovecot_installed: None):
    """One server for the tests that only log in and look: starting and stopping Dovecot costs over a second."""
    with DovecotServer() as running:
        yield running


def settings_for(server: DovecotServer, mode: str, **extra: object) -> MailboxSettings:
    port = server.tls_port if mode == "implicit" else server.port
    values: dict[str, object] = dict(host=server.host, port=port, tls=mode, ca_file=str(server.ca_file),
                                     user=server.user, password=server.password, timeout=10.0)
    values.update(extra)
    return MailboxSettings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["none", "starttls", "implicit"])
def test_connects_and_logs_in_in_every_tls_mode(server: DovecotServer, mode: str) -> None:
    with Mailbox.connect(settings_for(server, mode)) as box:
        assert {"MOVE", "UIDPLUS", "IDLE"} <= box.capabilities


def test_wrong_password_is_an_auth_error_naming_user_and_host(server: DovecotServer) -> None:
    with pytest.raises(MailboxAuthError) as caught:
        Mailbox.connect(settings_for(server, "implicit", password="wrong-secret"))
    assert str(caught.value) == (
        "mailbox 'default': login as 'user' at 127.0.0.1 refused: [AUTHENTICATIONFAILED] Authentication failed."
    )


def test_certificate_is_verified_by_default(server: DovecotServer) -> None:
    with pytest.raises(MailboxError, match=r"^mailbox 'default': TLS with 127\.0\.0\.1:\d+ failed: CERTIFICATE_VERIFY_FAILED"):
        Mailbox.connect(settings_for(server, "implicit", ca_file=""))


def test_missing_ca_file_is_a_configuration_error(server: DovecotServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^mailbox 'default': cannot load ca_file .*/nothing.pem: \[Errno 2\]"):
        Mailbox.connect(settings_for(server, "implicit", ca_file=str(tmp_path / "nothing.pem")))


def test_verification_can_be_turned_off(server: DovecotServer) -> None:
    with Mailbox.connect(settings_for(server, "starttls", ca_file="", verify=False)) as box:
        assert "MOVE" in box.capabilities


def test_connection_refused_is_a_mailbox_error(dovecot: DovecotServer, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(dovecot.ca_file.read_bytes())
    settings = settings_for(dovecot, "implicit", ca_file=str(ca_file))
    dovecot.stop()
    with pytest.raises(MailboxError, match=r"^mailbox 'default': cannot connect to 127\.0\.0\.1:\d+: .*refused"):
        Mailbox.connect(settings)


def test_password_file_is_read_at_login(server: DovecotServer, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(server.password + "\n")
    with Mailbox.connect(settings_for(server, "implicit", password="", password_file=str(secret))) as box:
        assert "IDLE" in box.capabilities


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"host": "imap.example.com", "tls": "none"}, "tls = \"none\" is only allowed for a loopback host, not 'imap.example.com'"),
        ({"host": ""}, "host is not set"),
        ({"password": ""}, "set one of password (or password_file), oauth2_token (or oauth2_token_file), oauth2_token_command"),
        ({"oauth2_token_file": "/t"}, "set only one of password (or password_file), oauth2_token (or oauth2_token_file), oauth2_token_command"),
        ({"archive_folder": "INBOX"}, "archive_folder and invalid_folder must differ from folder"),
    ],
)
def test_settings_checks(values: dict[str, object], message: str) -> None:
    base = MailboxSettings(name="m", host="127.0.0.1", user="u", password="p")
    with pytest.raises(ConfigError) as caught:
        check_settings(replace(base, **values))  # type: ignore[arg-type]
    assert str(caught.value) == f"mailbox 'm': {message}"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.1.2.3"])
def test_plain_imap_is_allowed_on_loopback(host: str) -> None:
    assert check_settings(MailboxSettings(host=host, user="u", password="p", tls="none")) is None  # no ConfigError: loopback may go without TLS


# -- OAuth2 (XOAUTH2) against Dovecot's oauth2 passdb with a loopback introspection endpoint -------------


@pytest.fixture(scope="module")
def oauth_server(dovecot_installed: None):
    with DovecotServer(oauth2_token="token-for-tests-7f3a") as server:
        yield server


def test_xoauth2_with_token_file(oauth_server: DovecotServer, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("token-for-tests-7f3a\n")
    settings = settings_for(oauth_server, "implicit", password="", oauth2_token_file=str(token))
    with Mailbox.connect(settings) as box:
        box.ensure_folder("Archive")
    assert "Archive" in oauth_server.folder_counts()


def test_xoauth2_token_file_from_the_environment(oauth_server: DovecotServer, tmp_path: Path) -> None:
    """DMARCFLOW_MAILBOX_OAUTH2_TOKEN_FILE sets oauth2_token_file and, by the _FILE rule, oauth2_token too."""
    from dmarcflow.config import load_settings

    token = tmp_path / "token"
    token.write_text("token-for-tests-7f3a\n")
    env = {"DMARCFLOW_MAILBOX_HOST": oauth_server.host, "DMARCFLOW_MAILBOX_PORT": str(oauth_server.tls_port),
           "DMARCFLOW_MAILBOX_USER": oauth_server.user, "DMARCFLOW_MAILBOX_CA_FILE": str(oauth_server.ca_file),
           "DMARCFLOW_MAILBOX_OAUTH2_TOKEN_FILE": str(token)}
    [box] = load_settings(None, env).mailboxes
    check_settings(box)
    with Mailbox.connect(box) as mailbox:
        assert "MOVE" in mailbox.capabilities


def test_xoauth2_with_token_command(oauth_server: DovecotServer) -> None:
    command = f"{sys.executable} -c \"print('token-for-tests-7f3a')\""
    settings = settings_for(oauth_server, "starttls", password="", oauth2_token_command=command)
    with Mailbox.connect(settings) as box:
        assert "MOVE" in box.capabilities


def test_xoauth2_wrong_token_is_an_auth_error(oauth_server: DovecotServer) -> None:
    settings = settings_for(oauth_server, "implicit", password="", oauth2_token="expired-token")
    with pytest.raises(MailboxAuthError, match="refused: .*AUTHENTICATIONFAILED") as caught:
        Mailbox.connect(settings)
    assert "expired-token" not in str(caught.value)


def test_failing_token_command_reports_stderr_not_stdout() -> None:
    command = f"{sys.executable} -c \"import sys; print('half-token'); sys.exit('refresh token revoked')\""
    with pytest.raises(MailboxAuthError) as caught:
        oauth2_token(MailboxSettings(oauth2_token_command=command))
    assert str(caught.value) == f"oauth2_token_command {sys.executable!r} failed (exit 1): refresh token revoked"


# -- moving without MOVE, and batching ------------------------------------------------------------------


def test_copy_fallback_expunges_exactly_the_moved_uids(dovecot_installed: None) -> None:
    with DovecotServer(hide_capabilities={"MOVE"}) as server:
        for n in range(4):
            server.append("INBOX", plain_mail(f"message {n}"))
        with Mailbox.connect(settings_for(server, "implicit")) as box:
            assert "MOVE" not in box.capabilities
            box.ensure_folder("Archive")
            box.select("INBOX")
            box.move([2, 3], "Archive")
            assert box.pending() == [1, 4]
        assert server.folder_counts() == {"INBOX": 2, "Archive": 2}
        assert [m.split(b"Subject: ")[1][:9] for m in server.list_messages("Archive")] == [b"message 1", b"message 2"]


def test_fetch_peeks_without_setting_seen(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", plain_mail("peek"))
    with Mailbox.connect(settings_for(dovecot, "implicit")) as box:
        box.select("INBOX")
        [message] = box.fetch(box.pending())
        assert message.uid == 1 and b"Subject: peek" in message.raw
    with dovecot.connect() as client:
        client.select_folder("INBOX", readonly=True)
        assert client.get_flags([1]) == {1: ()}


def test_batches_are_bounded_by_count_and_bytes() -> None:
    sizes = {1: 10, 2: 10, 3: 90, 4: 10, 5: 10, 6: 200}
    assert plan_batches(sizes, [1, 2, 3, 4, 5, 6], batch_size=3, max_bytes=100) == [[1, 2], [3, 4], [5], [6]]
    assert plan_batches(sizes, [1, 2, 4, 5], batch_size=3, max_bytes=1000) == [[1, 2, 4], [5]]
    assert plan_batches({}, [], batch_size=3) == []


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(3))
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [c / 2 <= d <= c for d, c in zip(delays, ceilings)] == [True] * 6
    assert len(set(delays)) == 6  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_example_config_sets_every_mailbox_key() -> None:
    """config/dmarcflow.example.toml documents every mailbox key, and loads."""
    import tomllib
    from dataclasses import fields

    from dmarcflow.config import load_settings
    from tests.support.imap_mail import REPO

    path = REPO / "config" / "dmarcflow.example.toml"
    with path.open("rb") as fh:
        [table] = tomllib.load(fh)["mailboxes"]
    assert sorted(table) == sorted(f.name for f in fields(MailboxSettings))
    [box] = load_settings(path, {}).mailboxes
    assert (box.host, box.tls, box.verify, box.folder) == ("imap.example.com", "implicit", True, "INBOX")
