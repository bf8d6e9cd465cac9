"""Digests: one mail with the overview of every domain and what changed, sent or written to a file.

Public API::

    make_digest(store, settings, domains, since, until, now=None, *, to=(), out=None, trigger="command") -> DigestResult
    digest_period(since, until, today) -> Period
    build_digest(store, period, approved, domains, now) -> Digest; compose(digest, smtp, to, renderer) -> EmailMessage
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from dmarcflow.analysis.window import check_order
from dmarcflow.changes import Period
from dmarcflow.config import Settings
from dmarcflow.digest.build import Digest, build_digest
from dmarcflow.digest.render import DigestRenderer, PlainRenderer, compose, subject
from dmarcflow.errors import ConfigError, DmarcflowError
from dmarcflow.notify import metrics
from dmarcflow.notify.smtp import SmtpSender
from dmarcflow.store import Store

log = logging.getLogger(__name__)

__all__ = ["Digest", "DigestRenderer", "DigestResult", "PlainRenderer", "build_digest", "compose", "digest_period",
           "make_digest"]


@dataclass(frozen=True)
class DigestResult:
    subject: str
    period: Period
    domains: tuple[str, ...]
    empty: bool
    sent: bool  # False when written to a file, or not sent because the period was empty and send_empty is off
    to: tuple[str, ...]
    out: str | None

    def as_dict(self) -> dict[str, object]:
        return {"subject": self.subject, **self.period.as_dict(), "domains": list(self.domains), "empty": self.empty,
                "sent": self.sent, "to": list(self.to), "out": self.out}


def digest_period(since: date, until: date | None, today: date) -> Period:
    last = until or today
    check_order(since, last)
    return Period(since, last)


def delivery(settings: Settings, to: Sequence[str] = (), out: Path | None = None) -> tuple[tuple[str, ...], SmtpSender | None]:
    """The recipients and the sender of a digest; checks the settings it needs before any work is done."""
    recipients = tuple(to or settings.digest.to)
    if out is None and not recipients:
        raise ConfigError("no recipient for the digest: give --to ADDRESS or set [digest] to")
    return recipients, (SmtpSender(settings.smtp) if out is None else None)


def make_digest(store: Store, settings: Settings, period: Period, domains: Sequence[str] = (),
                now: datetime | None = None, *, to: Sequence[str] = (), out: Path | None = None,
                trigger: str = "command", renderer: DigestRenderer | None = None) -> DigestResult:
    """Build the digest of the period and send it (to ``to``, else ``[digest] to``) or write it to ``out``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    recipients, sender = delivery(settings, to, out)
    digest = build_digest(store, period, settings.approved, domains or settings.digest.domains, now)
    result = DigestResult(subject(digest), period, tuple(d.domain for d in digest.domains), digest.empty,
                          False, recipients, str(out) if out else None)
    if digest.empty and not settings.digest.send_empty and out is None:
        log.info("digest for %s not sent: no report in the period and [digest] send_empty = false", period.label())
        return result
    message = compose(digest, settings.smtp, recipients, renderer)
    if out is not None:
        try:
            out.write_bytes(message.as_bytes())
        except OSError as exc:
            raise DmarcflowError(f"cannot write the digest to {out}: {exc.strerror}") from None
        return result
    assert sender is not None
    sender.send(message, recipients)
    metrics.DIGESTS_SENT.labels(trigger=trigger).inc()
    return DigestResult(result.subject, period, result.domains, result.empty, True, recipients, None)
