"""Sending mail over SMTP: implicit TLS, STARTTLS or (loopback only) cleartext; password or XOAUTH2 login.

TLS verifies the server's certificate and host name unless ``verify = false``. A server that does not offer
STARTTLS when it was asked for is an error, never a silent fall back to cleartext. Passwords and tokens are
read at each connection and never logged; errors name the server, the user and the reply, nothing more.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from dmarcflow.config import SmtpSettings
from dmarcflow.credentials import oauth2_token, password, uses_oauth2, xoauth2_response
from dmarcflow.errors import ConfigError, CredentialError, DeliveryError
from dmarcflow.transport import client_tls_context

log = logging.getLogger(__name__)


def check_ready(settings: SmtpSettings) -> None:
    """What sending needs beyond the load-time checks: a host and a From address."""
    if not settings.host:
        raise ConfigError("[smtp] host is not set: it is needed to send digests and alert mails")
    if not settings.from_:
        raise ConfigError("[smtp] from is not set: the address digests and alerts are sent from")


def new_message(settings: SmtpSettings, to: Sequence[str], subject: str) -> EmailMessage:
    """A message with the headers every mail needs; the caller adds the body."""
    message = EmailMessage()
    message["From"] = settings.from_ or "dmarcflow@localhost"  # only a message written to a file lacks [smtp] from
    if to:
        message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.from_.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    return message


class SmtpSender:
    def __init__(self, settings: SmtpSettings) -> None:
        check_ready(settings)
        self.settings = settings

    @property
    def where(self) -> str:
        return f"SMTP {self.settings.host}:{self.settings.effective_port()}"

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Deliver one message to the recipients; DeliveryError when the server did not accept it."""
        if not recipients:
            raise ConfigError("no recipient for the mail (set [alerts] email_to, [digest] to or --to)")
        s = self.settings
        try:
            with self._connect() as client:
                self._login(client)
                refused = client.send_message(message, from_addr=s.from_, to_addrs=list(recipients))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self.where}: login as {s.user!r} refused: {_reply(exc)}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{self.where}: every recipient was refused: {_refusals(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{self.where}: {_reply(exc)}") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"{self.where}: TLS failed: {exc.reason or exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.where}: {exc or type(exc).__name__}") from None
        except CredentialError as exc:
            raise DeliveryError(f"{self.where}: {exc}") from None
        if refused:
            log.warning("%s: some recipients were refused: %s", self.where, _refusals(refused))
        log.info("%s: sent %r to %d recipient(s)", self.where, message["Subject"], len(recipients) - len(refused))

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        port = s.effective_port()
        if s.tls == "ssl":
            return smtplib.SMTP_SSL(s.host, port, timeout=s.timeout, context=self._context())
        client = smtplib.SMTP(s.host, port, timeout=s.timeout)
        try:
            if s.tls == "starttls":
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise DeliveryError(f'{self.where}: the server does not offer STARTTLS (tls = "starttls")')
                client.starttls(context=self._context())
                client.ehlo()
        except BaseException:
            client.close()
            raise
        return client

    def _context(self) -> ssl.SSLContext:
        return client_tls_context(self.settings.ca_file, self.settings.verify, "[smtp]")

    def _login(self, client: smtplib.SMTP) -> None:
        s = self.settings
        if not s.user:
            return
        if uses_oauth2(s):
            response = xoauth2_response(s.user, oauth2_token(s))
            # On failure the server sends a JSON challenge; the empty answer lets it reply 535.
            client.ehlo_or_helo_if_needed()
            client.auth("XOAUTH2", lambda challenge=None: response if challenge is None else "")
        else:
            client.login(s.user, password(s))


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}".strip()


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {code} {reply.decode(errors='replace')}" for rcpt, (code, reply) in sorted(refused.items()))
