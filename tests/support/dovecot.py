"""A real Dovecot IMAP server for the test suite.

Everything lives in one temporary directory: config, TLS certificates, passwd-file, Maildir, runtime sockets
and the log. Nothing under /etc/dovecot or /run/dovecot is read or written, so several instances (one per
test session, or per test) run side by side, and the system service is never involved.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

from tests.support.oauth2_introspection import IntrospectionServer

HOST = "127.0.0.1"
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# A clean master shutdown takes about 1.1 s; now and then a login process forked during shutdown blocks 5 s on
# a config socket that is already gone, so after this grace period the rest of the group is killed.
STOP_GRACE = 2.5
START_ATTEMPTS = 3  # a port picked as free can be taken by another process before Dovecot binds it


class DovecotError(RuntimeError):
    """The test server could not be set up, started or stopped."""


@dataclass(frozen=True)
class Ports:
    imap: int  # plain IMAP, STARTTLS offered
    imaps: int  # implicit TLS


@dataclass(frozen=True)
class Accounts:
    """System users the Dovecot processes run as: Dovecot refuses to run login processes as root."""

    login_user: str
    internal_user: str
    internal_group: str  # group of the internal unix sockets; an unprivileged master can only chown to its own
    mail_user: str  # owns the Maildir; the imap process runs with its uid

    @classmethod
    def for_current_process(cls) -> Accounts:
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            group = grp.getgrgid(os.getegid()).gr_name
            return cls(login_user=me.pw_name, internal_user=me.pw_name, internal_group=group, mail_user=me.pw_name)
        # The dovecot-core package creates these users; the mail user must not be root either.
        return cls(login_user="dovenull", internal_user="dovecot", internal_group="dovecot", mail_user="dovecot")


@dataclass(frozen=True)
class Layout:
    """Where each file of one instance lives, all under one temporary root."""

    root: Path
    config: Path
    run_dir: Path  # base_dir: sockets and pid file
    state_dir: Path
    home: Path  # one home (with its Maildir) per user
    passwd: Path
    oauth2_conf: Path
    log: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def under(cls, root: Path) -> Layout:
        names = {
            "config": "dovecot.conf", "run_dir": "run", "state_dir": "state", "home": "home",
            "passwd": "passwd", "oauth2_conf": "oauth2.conf.ext", "log": "dovecot.log",
            "ca_cert": "ca.pem", "ca_key": "ca.key", "server_cert": "server.pem", "server_key": "server.key",
        }  # fmt: skip
        return cls(root=root, **{field: root / name for field, name in names.items()})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pick_ports() -> Ports:
    imap = free_port()
    imaps = free_port()
    while imaps == imap:
        imaps = free_port()
    return Ports(imap=imap, imaps=imaps)


def make_certificates(layout: Layout) -> None:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-subj", "/CN=dmarcflow test CA",
        "-keyout", str(layout.ca_key), "-out", str(layout.ca_cert),
    )  # fmt: skip
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-subj", "/CN=localhost",
        "-CA", str(layout.ca_cert), "-CAkey", str(layout.ca_key),
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth",
        "-keyout", str(layout.server_key), "-out", str(layout.server_cert),
    )  # fmt: skip


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DovecotError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def render_config(layout: Layout, ports: Ports, accounts: Accounts, capability: str | None, oauth2: bool) -> str:
    mail = pwd.getpwnam(accounts.mail_user)
    mechanisms = "plain login xoauth2 oauthbearer" if oauth2 else "plain login"
    lines = [
        f"base_dir = {layout.run_dir}",
        f"state_dir = {layout.state_dir}",
        f"instance_name = dmarcflow-test-{ports.imap}",
        "protocols = imap",
        f"listen = {HOST}",
        f"log_path = {layout.log}",
        f"default_login_user = {accounts.login_user}",
        f"default_internal_user = {accounts.internal_user}",
        f"default_internal_group = {accounts.internal_group}",
        "first_valid_uid = 1",
        # No stats service: tests need no metrics, and a login process then never waits on a stats handshake.
        "stats_writer_socket_path =",
        "ssl = yes",
        f"ssl_cert = <{layout.server_cert}",
        f"ssl_key = <{layout.server_key}",
        # Tests log in with a plaintext password over the loopback plain port on purpose.
        "disable_plaintext_auth = no",
        f"auth_mechanisms = {mechanisms}",
        "auth_failure_delay = 0",  # a wrong-password test should not sleep 2 s
        f"mail_location = maildir:{layout.home}/%u/Maildir",
        "namespace inbox {\n  inbox = yes\n  separator = /\n}",
        "passdb {\n  driver = passwd-file\n  mechanisms = plain login\n"
        f"  args = scheme=PLAIN username_format=%u {layout.passwd}\n}}",
        f"userdb {{\n  driver = static\n  args = uid={mail.pw_uid} gid={mail.pw_gid} home={layout.home}/%u\n}}",
        # No chroot: an unprivileged master cannot chroot, and tests gain nothing from it.
        "service imap-login {\n  chroot =\n"
        f"  inet_listener imap {{\n    address = {HOST}\n    port = {ports.imap}\n  }}\n"
        f"  inet_listener imaps {{\n    address = {HOST}\n    port = {ports.imaps}\n    ssl = yes\n  }}\n}}",
        # No auth penalty: wrong-password tests would slow every later login from 127.0.0.1.
        "service anvil {\n  chroot =\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}",
    ]
    if oauth2:
        lines.append(
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {layout.oauth2_conf}\n}}"
        )
    if capability is not None:
        lines.append(f"imap_capability = {capability}")
    return "\n".join(lines) + "\n"


def render_oauth2_config(introspection_url: str) -> str:
    # Dovecot posts "token=<bearer>" and expects a JSON object with the username and an "active" flag.
    return (
        f"introspection_url = {introspection_url}\n"
        "introspection_mode = post\n"
        "force_introspection = yes\n"
        "username_attribute = username\n"
        "active_attribute = active\n"
        "active_value = true\n"
    )


def prepare_layout(layout: Layout, accounts: Accounts, user: str, password: str) -> None:
    """Create directories and files readable by the unprivileged Dovecot users."""
    # mkdtemp makes a 0700 directory; the auth process (internal user) must reach the passwd-file.
    layout.root.chmod(0o755)
    for directory in (layout.run_dir, layout.state_dir):
        directory.mkdir(mode=0o755, exist_ok=True)
    home = layout.home / user
    home.mkdir(parents=True, exist_ok=True)
    layout.home.chmod(0o755)
    mail = pwd.getpwnam(accounts.mail_user)
    os.chown(home, mail.pw_uid, mail.pw_gid)
    layout.passwd.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    layout.passwd.chmod(0o644)
    make_certificates(layout)


@dataclass(frozen=True)
class Daemon:
    process: subprocess.Popen[bytes]
    log_start: int  # log size when this run began: lines of earlier runs say nothing about this one


def launch(layout: Layout) -> Daemon:
    """Run the master in the foreground of its own session, so stop() can reap the whole process group."""
    log_start = layout.log.stat().st_size if layout.log.exists() else 0
    # Output goes to a file: a pipe that nobody drains can block the daemon or the caller.
    with layout.log.open("ab") as log:
        process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(layout.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    return Daemon(process=process, log_start=log_start)


def log_tail(layout: Layout, since: int = 0, lines: int = 30) -> str:
    try:
        with layout.log.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(daemon: Daemon, layout: Layout, ports: Ports) -> None:
    """Ready means both listeners accept a connection and the plain one sends its IMAP greeting."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        tail = log_tail(layout, daemon.log_start)
        if daemon.process.poll() is not None:
            raise DovecotError(f"dovecot exited with {daemon.process.returncode}; log tail:\n{tail}")
        if "Fatal: " in tail:  # the master would retry a failing service with growing delays
            raise DovecotError(f"a dovecot service failed; log tail:\n{tail}")
        if _greets(ports.imap) and _accepts(ports.imaps):
            return
        time.sleep(0.05)
    raise DovecotError(f"dovecot not ready after {READY_TIMEOUT} s; log tail:\n{log_tail(layout, daemon.log_start)}")


def _greets(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the master (it stops its children), then SIGKILL anything left in its process group."""
    group = process.pid
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
    _kill_group(group)


def _kill_group(group: int) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while group_members(group):
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise DovecotError(f"dovecot processes survive SIGKILL: {group_members(group)}")
        time.sleep(0.02)


def group_members(group: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `group`, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


class DovecotServer:
    """One Dovecot instance with one user; start() builds everything, stop() removes it all.

    hide_capabilities: post-login capabilities not to advertise (e.g. {"MOVE"}, {"IDLE"}) so that
    client fallbacks can be exercised. oauth2_token: also accept XOAUTH2/OAUTHBEARER with this token.
    """

    def __init__(
        self,
        *,
        user: str = "user",
        password: str = "password",
        hide_capabilities: Iterable[str] = (),
        oauth2_token: str | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.oauth2_token = oauth2_token
        self.hidden_capabilities = frozenset(name.upper() for name in hide_capabilities)
        self._accounts = Accounts.for_current_process()
        self._layout: Layout | None = None
        self._ports: Ports | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._capability: str | None = None
        self._introspection: IntrospectionServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> DovecotServer:
        if self._process is not None:
            raise DovecotError("dovecot already running")
        try:
            if self._layout is None:
                self._layout = self._create_layout()
            if self.hidden_capabilities and self._capability is None:
                self._capability = self._probe_capability()
            self._launch()
        except BaseException:
            self.stop()  # a failed start leaves nothing behind (a with-block never reaches __exit__)
            raise
        return self

    def stop(self) -> None:
        """Stop every Dovecot process of this instance and delete its files (mail included)."""
        self._stop_processes()
        if self._introspection is not None:
            self._introspection.close()
            self._introspection = None
        if self._layout is not None:
            shutil.rmtree(self._layout.root, ignore_errors=True)
            self._layout = None
        self._ports = None
        self._capability = None

    def restart(self) -> None:
        """Stop and start the daemon on the same mail store (and the same ports when still free)."""
        self._stop_processes()
        self._launch()

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _create_layout(self) -> Layout:
        layout = Layout.under(Path(tempfile.mkdtemp(prefix="dmarcflow-dovecot-")))
        try:
            prepare_layout(layout, self._accounts, self.user, self.password)
            if self.oauth2_token is not None:
                self._introspection = IntrospectionServer(self.oauth2_token, self.user)
                layout.oauth2_conf.write_text(render_oauth2_config(self._introspection.url))
                layout.oauth2_conf.chmod(0o644)
        except BaseException:
            shutil.rmtree(layout.root, ignore_errors=True)
            raise
        return layout

    def _probe_capability(self) -> str:
        """Ask an unmodified server for its post-login capabilities, so hiding one keeps all the others."""
        self._launch()
        try:
            with self.connect() as client:
                advertised = [name.decode() for name in client.capabilities()]
        finally:
            self._stop_processes()
        return " ".join(name for name in advertised if name.upper() not in self.hidden_capabilities)

    def _launch(self) -> None:
        layout = self._require_layout()
        ports = self._ports or pick_ports()
        for attempt in range(1, START_ATTEMPTS + 1):
            layout.config.write_text(
                render_config(layout, ports, self._accounts, self._capability, self.oauth2_token is not None)
            )
            daemon = launch(layout)
            try:
                wait_ready(daemon, layout, ports)
            except DovecotError:
                terminate(daemon.process)
                port_taken = "Address already in use" in log_tail(layout, daemon.log_start)
                if attempt == START_ATTEMPTS or not port_taken:
                    raise
                ports = pick_ports()
                continue
            self._process, self._ports = daemon.process, ports
            return

    def _stop_processes(self) -> None:
        if self._process is not None:
            terminate(self._process)
            self._process = None

    def _require_layout(self) -> Layout:
        if self._layout is None:
            raise DovecotError("dovecot test server not started")
        return self._layout

    def _require_ports(self) -> Ports:
        if self._ports is None:
            raise DovecotError("dovecot test server not started")
        return self._ports

    # -- connection facts ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        """Plain IMAP; STARTTLS is offered."""
        return self._require_ports().imap

    @property
    def tls_port(self) -> int:
        """IMAPS (implicit TLS)."""
        return self._require_ports().imaps

    @property
    def ca_file(self) -> Path:
        """The CA that signed the server certificate (CN and SAN localhost, SAN IP 127.0.0.1)."""
        return self._require_layout().ca_cert

    @property
    def log_path(self) -> Path:
        return self._require_layout().log

    @property
    def pid(self) -> int | None:
        """The master's pid, also the process group of every Dovecot process of this instance."""
        return None if self._process is None else self._process.pid

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    # -- IMAP helpers ----------------------------------------------------------------------------------

    def connect(self, mode: str = "tls", *, login: bool = True) -> IMAPClient:
        """An IMAPClient over "tls" (IMAPS), "starttls" or "plain", logged in as the user unless login=False."""
        if mode == "tls":
            client = IMAPClient(HOST, port=self.tls_port, ssl=True, ssl_context=self.ssl_context(), timeout=10)
        elif mode in ("starttls", "plain"):
            client = IMAPClient(HOST, port=self.port, ssl=False, timeout=10)
            if mode == "starttls":
                client.starttls(self.ssl_context())
        else:
            raise ValueError(f"unknown mode {mode!r}: use 'tls', 'starttls' or 'plain'")
        if login:
            client.login(self.user, self.password)
        return client

    def append(self, folder: str, raw: bytes) -> None:
        """Store one raw RFC 5322 message in `folder`, creating the folder when missing."""
        with self.connect() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)

    def list_messages(self, folder: str) -> list[bytes]:
        """The raw messages of `folder` in UID order, read without setting \\Seen."""
        with self.connect() as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search("ALL"))
            if not uids:
                return []
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
            return [fetched[uid][b"BODY[]"] for uid in uids]

    def folder_counts(self) -> dict[str, int]:
        """Message count of every selectable folder, by name."""
        with self.connect() as client:
            names = [name for flags, _, name in client.list_folders() if b"\\Noselect" not in flags]
            return {name: client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"] for name in names}
