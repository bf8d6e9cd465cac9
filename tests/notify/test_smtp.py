"""The SMTP sender against a real aiosmtpd server on loopback: plain, STARTTLS and implicit TLS with a
test CA, password and XOAUTH2 logins, and every failure as one clear DeliveryError or ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmarcflow.config import SmtpSettings, load_settings
from dmarcflow.errors import ConfigError, DeliveryError
from dmarcflow.notify.smtp import SmtpSender, new_message
from tests.support.smtp_server import SmtpServer, CertAuthority


def _send(settings: SmtpSettings, to: str = "team@example.com") -> None:
    message = new_message(settings, [to], "hello")
    message.set_content("body line\n")
    SmtpSender(settings).send(message, [to])


def test_plain_smtp_to_loopback_delivers_the_message(smtp: SmtpServer) -> None:
    _send(SmtpSettings(host="127.0.0.1", port=smtp.port, tls="none", from_="dmarc@example.com"))
    [got] = smtp.messages()
    assert (got.mail_from, got.rcpt_tos, got.login) == ("dmarc@example.com", ["team@example.com"], None)
    assert got.message["Subject"] == "hello"
    assert got.message["Auto-Submitted"] == "auto-generated"
    assert got.message.get_content() == "body line\n"


def test_starttls_with_the_test_ca_and_a_password_file(test_ca: CertAuthority, tmp_path: Path) -> None:
    secret = tmp_path / "smtp.password"
    secret.write_text("pw-7c1e\n")
    with SmtpServer("starttls", test_ca, password="pw-7c1e") as server:
        _send(SmtpSettings(host="localhost", port=server.port, tls="starttls", ca_file=str(test_ca.ca_cert),
                           user="mailer", password_file=str(secret), from_="dmarc@example.com"))
        [got] = server.messages()
    assert got.login == "mailer"


def test_implicit_tls_with_the_password_from_the_environment(test_ca: CertAuthority) -> None:
    with SmtpServer("ssl", test_ca, password="env-pw-42") as server:
        settings = load_settings(env={
            "DMARCFLOW_SMTP_HOST": "127.0.0.1", "DMARCFLOW_SMTP_PORT": str(server.port), "DMARCFLOW_SMTP_TLS": "ssl",
            "DMARCFLOW_SMTP_CA_FILE": str(test_ca.ca_cert), "DMARCFLOW_SMTP_USER": "mailer",
            "DMARCFLOW_SMTP_PASSWORD": "env-pw-42", "DMARCFLOW_SMTP_FROM": "dmarc@example.com"}).smtp
        assert "env-pw-42" not in repr(settings)
        _send(settings)
        assert [m.login for m in server.messages()] == ["mailer"]


def test_xoauth2_login_with_a_token_file(test_ca: CertAuthority, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("ya29.token-for-tests\n")
    with SmtpServer("starttls", test_ca, oauth2_token="ya29.token-for-tests") as server:
        _send(SmtpSettings(host="localhost", port=server.port, ca_file=str(test_ca.ca_cert), user="mailer",
                           oauth2_token_file=str(token), from_="dmarc@example.com"))
        assert [m.login for m in server.messages()] == ["mailer"]


def test_a_wrong_password_is_a_delivery_error_without_the_password(test_ca: CertAuthority) -> None:
    with SmtpServer("starttls", test_ca, password="right") as server:
        settings = SmtpSettings(host="localhost", port=server.port, ca_file=str(test_ca.ca_cert), user="mailer",
                                password="wrong-9f2b", from_="dmarc@example.com")
        with pytest.raises(DeliveryError) as caught:
            _send(settings)
    assert str(caught.value) == (f"SMTP localhost:{server.port}: login as 'mailer' refused: "
                                 "535 5.7.8 Authentication credentials invalid")
    assert server.messages() == []


def test_tls_is_verified_by_default(test_ca: CertAuthority) -> None:
    with SmtpServer("starttls", test_ca) as server:
        with pytest.raises(DeliveryError) as caught:
            _send(SmtpSettings(host="localhost", port=server.port, from_="dmarc@example.com"))  # no ca_file
    assert str(caught.value).startswith(f"SMTP localhost:{server.port}: TLS failed: CERTIFICATE_VERIFY_FAILED")


def test_starttls_asked_but_not_offered_is_refused(smtp: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        _send(SmtpSettings(host="127.0.0.1", port=smtp.port, tls="starttls", from_="dmarc@example.com"))
    assert str(caught.value) == f"SMTP 127.0.0.1:{smtp.port}: the server does not offer STARTTLS (tls = \"starttls\")"
    assert smtp.messages() == []


def test_an_unreachable_server_is_a_delivery_error() -> None:
    from tests.support.dovecot import free_port

    port = free_port()
    with pytest.raises(DeliveryError) as caught:
        _send(SmtpSettings(host="127.0.0.1", port=port, tls="none", from_="dmarc@example.com", timeout=5))
    assert str(caught.value) == f"SMTP 127.0.0.1:{port}: [Errno 111] Connection refused"


@pytest.mark.parametrize(("env", "message"), [
    ({"DMARCFLOW_SMTP_HOST": "smtp.example.net", "DMARCFLOW_SMTP_TLS": "none"},
     "[smtp] tls = \"none\" sends credentials and mail in clear: only allowed for a loopback host, not "
     "'smtp.example.net' (set allow_insecure = true to permit it)"),
    ({"DMARCFLOW_SMTP_TLS": "tls"}, "[smtp] tls must be starttls, ssl or none, not 'tls'"),
    ({"DMARCFLOW_SMTP_FROM": "not an address"}, "[smtp] from: 'not an address' is not an email address"),
    ({"DMARCFLOW_SMTP_USER": "u", "DMARCFLOW_SMTP_PASSWORD": "p", "DMARCFLOW_SMTP_OAUTH2_TOKEN": "t"},
     "[smtp] set only one of password (or password_file), oauth2_token (or oauth2_token_file), oauth2_token_command"),
])
def test_smtp_configuration_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)
    assert str(caught.value) == message


def test_cleartext_off_loopback_when_explicitly_allowed() -> None:
    settings = load_settings(env={"DMARCFLOW_SMTP_HOST": "smtp.example.net", "DMARCFLOW_SMTP_TLS": "none",
                                  "DMARCFLOW_SMTP_ALLOW_INSECURE": "true"}).smtp
    assert (settings.tls, settings.allow_insecure, settings.effective_port()) == ("none", True, 25)


def test_sending_needs_a_host_and_a_from_address() -> None:
    with pytest.raises(ConfigError, match=r"^\[smtp\] host is not set"):
        SmtpSender(SmtpSettings(from_="dmarc@example.com"))
    with pytest.raises(ConfigError, match=r"^\[smtp\] from is not set"):
        SmtpSender(SmtpSettings(host="127.0.0.1"))
