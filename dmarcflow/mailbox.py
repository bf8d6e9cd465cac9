"""IMAP: connect, authenticate (password or XOAUTH2), search, fetch in batches, file messages away.

The folder on the server is the queue: nothing about it is remembered between sessions. Each pass
searches the reports folder anew, so a crash at any point only means some messages are read again, and
the store's dedupe makes reading again harmless. Every IMAP or socket failure surfaces as MailboxError;
a refused login as MailboxAuthError, so a daemon can tell a broken password from a broken network.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import select
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from dmarcflow import credentials
from dmarcflow.config import MailboxSettings
from dmarcflow.credentials import check_one_kind, password, uses_oauth2
from dmarcflow.errors import ConfigError, CredentialError, MailboxError
from dmarcflow.transport import client_tls_context, is_loopback

log = logging.getLogger(__name__)

IDLE_SLICE = 1.0  # seconds per IDLE wait, so a stop request is seen within about a second
BATCH_BYTES = 32 << 20  # fetch at most this much message data in one round trip (one bigger message alone)

# Everything that means "this connection or command failed": socket errors, TLS errors, IMAP NO/BAD/BYE.
CONNECTION_ERRORS = (OSError, imaplib.IMAP4.error, IMAPClientError, EOFError)


class MailboxAuthError(MailboxError):
    """The server refused the credentials (wrong password, expired token)."""


@dataclass(frozen=True)
class Message:
    uid: int
    raw: bytes


def check_settings(box: MailboxSettings) -> None:
    """What load_settings cannot know on its own: a host, credentials, and no cleartext off loopback."""
    where = f"mailbox {box.name!r}"
    if not box.host:
        raise ConfigError(f"{where}: host is not set")
    if not box.user:
        raise ConfigError(f"{where}: user is not set")
    if box.tls == "none" and not is_loopback(box.host):
        raise ConfigError(f'{where}: tls = "none" is only allowed for a loopback host, not {box.host!r}')
    # A secret and its _file key count as one source: DMARCFLOW_MAILBOX_PASSWORD_FILE sets both (the path,
    # and by the _FILE convention the content); the file wins because it is read afresh at each login.
    check_one_kind(box, where)
    if box.folder in (box.archive_folder, box.invalid_folder):
        raise ConfigError(f"{where}: archive_folder and invalid_folder must differ from folder")
    if box.folder in box.archive_folders():
        raise ConfigError(f"{where}: tls_archive_folder and failure_archive_folder must differ from folder")


def oauth2_token(box: MailboxSettings) -> str:
    """The current access token, read anew at each login because tokens expire (about an hour)."""
    try:
        return credentials.oauth2_token(box)
    except CredentialError as exc:
        raise MailboxAuthError(str(exc)) from None


def tls_context(box: MailboxSettings) -> ssl.SSLContext:
    return client_tls_context(box.ca_file, box.verify, f"mailbox {box.name!r}")


class Mailbox:
    """One logged-in IMAP session. Methods raise MailboxError, never raw socket or IMAP errors."""

    def __init__(self, settings: MailboxSettings, client: IMAPClient) -> None:
        self.settings = settings
        self._client = client
        self.capabilities = frozenset(name.decode("ascii", "replace").upper() for name in client.capabilities())

    @classmethod
    def connect(cls, box: MailboxSettings) -> Mailbox:
        where = f"{box.host}:{box.effective_port()}"
        try:
            client = _open_client(box)
        except ssl.SSLError as exc:
            raise MailboxError(f"mailbox {box.name!r}: TLS with {where} failed: {exc.reason or exc}") from None
        except CONNECTION_ERRORS as exc:
            raise MailboxError(f"mailbox {box.name!r}: cannot connect to {where}: {_describe(exc)}") from None
        try:
            _login(client, box)
            return cls(box, client)
        except BaseException:
            _close_quietly(client)
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.logout()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except CONNECTION_ERRORS as exc:
            raise MailboxError(f"mailbox {self.settings.name!r}: {doing} failed: {_describe(exc)}") from None

    def logout(self) -> None:
        try:
            self._client.logout()
        except CONNECTION_ERRORS:
            _close_quietly(self._client)  # the server is gone already: nothing to say goodbye to

    def ensure_folder(self, name: str) -> None:
        with self._errors(f"creating folder {name!r}"):
            if not self._client.folder_exists(name):
                self._client.create_folder(name)
                log.info("mailbox %s: created folder %s", self.settings.name, name)

    def select(self, folder: str) -> None:
        with self._errors(f"selecting {folder!r}"):
            self._client.select_folder(folder)

    def pending(self) -> list[int]:
        """UIDs still to process; \\Deleted ones were already copied away by the COPY fallback."""
        with self._errors("SEARCH"):
            return sorted(self._client.search(["UNDELETED"]))

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        if not uids:
            return {}
        with self._errors("FETCH RFC822.SIZE"):
            data = self._client.fetch(list(uids), ["RFC822.SIZE"])
        return {uid: int(item[b"RFC822.SIZE"]) for uid, item in data.items() if b"RFC822.SIZE" in item}

    def fetch(self, uids: Sequence[int]) -> list[Message]:
        """Raw messages in UID order, with BODY.PEEK[] so that nothing is marked \\Seen."""
        with self._errors("FETCH BODY.PEEK[]"):
            data = self._client.fetch(list(uids), ["BODY.PEEK[]"])
        missing = [uid for uid in uids if b"BODY[]" not in data.get(uid, {})]
        if missing:
            # Expunged by another session meanwhile, or unreadable on the server: left where they are.
            log.warning("mailbox %s: no content returned for uid(s) %s", self.settings.name, missing)
        return [Message(uid, data[uid][b"BODY[]"]) for uid in uids if uid not in missing]

    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE where supported; else COPY, flag \\Deleted, and expunge exactly these UIDs (UIDPLUS)."""
        if not uids:
            return
        with self._errors(f"moving {len(uids)} message(s) to {folder!r}"):
            try:
                self._move(uids, folder)
            except IMAPClientError as exc:
                if not _expunge_issued(exc):
                    raise
                # Another session (a second daemon) filed some of these already, and the server refused the
                # whole command: file the others one by one; a message already gone needs nothing more.
                for uid in uids:
                    try:
                        self._move([uid], folder)
                    except IMAPClientError as single:
                        if not _expunge_issued(single):
                            raise

    def _move(self, uids: Sequence[int], folder: str) -> None:
        if "MOVE" in self.capabilities:
            self._client.move(list(uids), folder)
        else:
            self._client.copy(list(uids), folder)
            self._delete(uids)

    def delete(self, uids: Sequence[int]) -> None:
        """Only when the user configured delete_processed."""
        if uids:
            with self._errors(f"deleting {len(uids)} message(s)"):
                self._delete(uids)

    def _delete(self, uids: Sequence[int]) -> None:
        self._client.add_flags(list(uids), [b"\\Deleted"], silent=True)
        if "UIDPLUS" in self.capabilities:
            self._client.uid_expunge(list(uids))
        else:
            # A plain EXPUNGE would also remove messages someone else flagged; leave ours flagged
            # (searches skip \Deleted) for the user's client to expunge.
            log.warning("mailbox %s: server lacks UIDPLUS; %d message(s) left flagged \\Deleted",
                        self.settings.name, len(uids))

    @property
    def can_idle(self) -> bool:
        return "IDLE" in self.capabilities

    def idle_start(self) -> None:
        with self._errors("IDLE"):
            self._client.idle()

    def idle_poll(self, timeout: float = IDLE_SLICE) -> bool:
        """True when the server announced something (new mail, expunge, ...) within timeout.

        imapclient's idle_check returns an empty list at end of file, so a dropped connection would look
        like silence (and spin, the socket staying readable): readable-but-nothing is treated as closed.
        """
        with self._errors("IDLE"):
            poller = select.poll()
            poller.register(self._client.socket().fileno(), select.POLLIN)
            if not poller.poll(int(timeout * 1000)):
                return False
            responses = self._client.idle_check(timeout=0)
        name = self.settings.name
        if not responses:
            raise MailboxError(f"mailbox {name!r}: the server closed the connection during IDLE")
        for response in responses:
            if response[0] == b"BYE":
                raise MailboxError(f"mailbox {name!r}: the server ended the session: {_describe(response[-1])}")
        # Dovecot's "* OK Still here" keepalive is no news.
        return any(response[0] != b"OK" for response in responses)

    def idle_stop(self) -> None:
        with self._errors("DONE (ending IDLE)"):
            self._client.idle_done()

    def noop(self) -> None:
        with self._errors("NOOP"):
            self._client.noop()


def _open_client(box: MailboxSettings) -> IMAPClient:
    port = box.effective_port()
    if box.tls == "implicit":
        return IMAPClient(box.host, port=port, ssl=True, ssl_context=tls_context(box), timeout=box.timeout)
    client = IMAPClient(box.host, port=port, ssl=False, timeout=box.timeout)
    if box.tls == "starttls":
        try:
            client.starttls(tls_context(box))
        except BaseException:
            _close_quietly(client)
            raise
    return client


def _login(client: IMAPClient, box: MailboxSettings) -> None:
    where = f"mailbox {box.name!r}: login as {box.user!r} at {box.host}"
    try:
        if uses_oauth2(box):
            client.oauth2_login(box.user, oauth2_token(box))
        else:
            client.login(box.user, password(box))
    except LoginError as exc:
        raise MailboxAuthError(f"{where} refused: {_describe(exc)}") from None
    except CONNECTION_ERRORS as exc:
        raise MailboxError(f"{where} failed: {_describe(exc)}") from None


def _describe(exc: object) -> str:
    text = exc.decode(errors="replace") if isinstance(exc, bytes) else str(exc).strip()
    if isinstance(exc, socket.timeout):
        return "timed out"
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text or type(exc).__name__


def _expunge_issued(exc: BaseException) -> bool:
    """RFC 5530 EXPUNGEISSUED: some of the messages were expunged by another session."""
    return "EXPUNGEISSUED" in str(exc).upper()


def _close_quietly(client: IMAPClient) -> None:
    with contextlib.suppress(*CONNECTION_ERRORS):
        client.shutdown()


def plan_batches(sizes: dict[int, int], uids: Sequence[int], batch_size: int, max_bytes: int = BATCH_BYTES) -> list[list[int]]:
    """Group UIDs (in order) into FETCH batches bounded by count and by total size."""
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if current and (len(current) >= batch_size or total + size > max_bytes):
            batches.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        batches.append(current)
    return batches
