"""What every outgoing connection shares: which hosts count as loopback, and verified TLS contexts.

Cleartext is only ever allowed to loopback hosts unless a setting says otherwise, and TLS contexts verify
the peer's certificate and host name unless a setting turns that off (tests against a private CA use a
ca_file instead).
"""

from __future__ import annotations

import ipaddress
import ssl
from urllib.parse import urlsplit

from dmarcflow.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def client_tls_context(ca_file: str, verify: bool, where: str) -> ssl.SSLContext:
    """A client context that verifies the server against ca_file (or the system store)."""
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: cannot load ca_file {ca_file}: {exc}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def redact_url(url: str) -> str:
    """A URL for logs and messages: scheme and host only, because a path or query may hold a token."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "a URL that cannot be read"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}/..."
