"""Signed JSON POSTs: HMAC-SHA256 over the exact body, retried with backoff, redirects only within the origin.

The receiver recomputes ``hmac_sha256(secret, body)`` over the raw request body and compares it, in constant
time, with the hex digest in ``X-Dmarcflow-Signature: sha256=<hex>``. TLS is verified (``ca_file`` for a
private CA). A redirect is followed only when it keeps the scheme, host and port and the method (307/308),
so the body and its signature never go to another host.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from dmarcflow import __version__
from dmarcflow.errors import DeliveryError
from dmarcflow.transport import client_tls_context, redact_url

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dmarcflow-Signature"
MAX_REDIRECTS = 3
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str) -> bool:
    """What a receiver does (here for tests and as the reference for the README)."""
    return hmac.compare_digest(sign(secret, body), header.strip())


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: bytes
    timeout: float = 10.0
    attempts: int = 3
    ca_file: str = ""


class _Retry(Exception):
    """One attempt failed in a way that may pass (network, 5xx, 429)."""


def post_signed(target: WebhookTarget, body: bytes, extra_headers: dict[str, str] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> None:
    """POST the body; return when the receiver answered 2xx, else DeliveryError after the last attempt."""
    headers = {"Content-Type": "application/json", "User-Agent": f"dmarcflow/{__version__}",
               SIGNATURE_HEADER: sign(target.secret, body), **(extra_headers or {})}
    shown = redact_url(target.url)
    last = ""
    for attempt in range(target.attempts):
        if attempt:
            sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
        try:
            _post_following(target, body, headers)
            return
        except _Retry as exc:
            last = str(exc)
            log.warning("webhook %s: attempt %d of %d failed: %s", shown, attempt + 1, target.attempts, last)
    raise DeliveryError(f"webhook {shown}: {last}")


def _post_following(target: WebhookTarget, body: bytes, headers: dict[str, str]) -> None:
    url = target.url
    for _ in range(MAX_REDIRECTS + 1):
        status, location = _post_once(url, body, headers, target)
        if 200 <= status < 300:
            return
        if status in (307, 308) and location:
            nxt = urljoin(url, location)
            if _origin(nxt) != _origin(target.url):
                raise DeliveryError(f"webhook {redact_url(target.url)}: refused a redirect to another host "
                                    f"({redact_url(nxt)}): the signed body goes only to the configured origin")
            url = nxt
            continue
        if status in RETRYABLE:
            raise _Retry(f"HTTP {status}")
        # Any other answer (4xx, 3xx that would change the method) will not change by retrying now;
        # the delivery stays pending and is tried again on the next run.
        raise DeliveryError(f"webhook {redact_url(target.url)}: HTTP {status}")
    raise DeliveryError(f"webhook {redact_url(target.url)}: more than {MAX_REDIRECTS} redirects")


def _post_once(url: str, body: bytes, headers: dict[str, str], target: WebhookTarget) -> tuple[int, str]:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = client_tls_context(target.ca_file, True, "[alerts] webhooks")
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=target.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=target.timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read(65536)  # drain a little so the connection closes cleanly; the body says nothing we need
        return answer.status, answer.getheader("Location") or ""
    except ssl.SSLError as exc:
        raise _Retry(f"TLS failed: {exc.reason or exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(str(exc) or type(exc).__name__) from None
    finally:
        conn.close()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default
