"""Where alerts go: one mail per alert, one signed webhook POST per alert, one Apprise notification per alert.

A channel's ``id`` is what the store keeps with each pending delivery. Webhook and Apprise URLs carry
tokens, so their ids are hashes of the URL and their labels show the host or the scheme only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Protocol

from dmarcflow.config import Settings
from dmarcflow.credentials import read_secret_file
from dmarcflow.errors import ConfigError
from dmarcflow.models import RaisedAlert
from dmarcflow.notify.push import AppriseTarget
from dmarcflow.notify.smtp import SmtpSender, new_message
from dmarcflow.notify.webhook import WebhookTarget, post_signed
from dmarcflow.transport import redact_url
from dmarcflow.utc import now_iso


class Channel(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    def send(self, alert: RaisedAlert) -> None:
        """Deliver, or raise DeliveryError (the delivery then stays pending)."""


def _hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def header_safe(text: str) -> str:
    """A header cannot hold line breaks, and alert texts quote reporter or sender names from (hostile) reports."""
    return "".join(c if c.isprintable() else " " for c in text)


def subject(alert: RaisedAlert) -> str:
    text = f"[dmarcflow] {alert.alert.severity}: {header_safe(alert.alert.message)}"
    return text if len(text) <= 160 else text[:159] + "…"


def alert_text(alert: RaisedAlert) -> str:
    a = alert.alert
    lines = [a.message, ""]
    if a.fix:
        lines += [f"What to do: {a.fix}", ""]
    lines += [f"rule: {a.rule}", f"domain: {a.domain}", f"severity: {a.severity}", f"key: {a.key}",
              f"first seen: {alert.first_seen}"]
    lines += [f"{name}: {value}" for name, value in a.details if value not in (None, "", [])]
    return "\n".join(lines) + "\n"


def alert_body(alert: RaisedAlert) -> bytes:
    """The webhook JSON: the alert's fields, the delivery id, and when it was sent (inside the signed body)."""
    return json.dumps({**alert.as_dict(), "event": "alert.raised", "sent_at": now_iso()},
                      ensure_ascii=False, sort_keys=True, default=str).encode()


class EmailChannel:
    kind = "email"
    id = "email"

    def __init__(self, sender: SmtpSender, to: Sequence[str]) -> None:
        self.sender = sender
        self.to = tuple(to)

    @property
    def label(self) -> str:
        return "email to " + ", ".join(self.to)

    def send(self, alert: RaisedAlert) -> None:
        message = new_message(self.sender.settings, self.to, subject(alert))
        message["X-Dmarcflow-Alert-Key"] = header_safe(alert.alert.key)
        message.set_content(alert_text(alert))
        self.sender.send(message, self.to)


class WebhookChannel:
    kind = "webhook"

    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self.id = "webhook:" + _hash(target.url)
        self.label = "webhook " + redact_url(target.url)

    def send(self, alert: RaisedAlert) -> None:
        post_signed(self.target, alert_body(alert), {"X-Dmarcflow-Alert-Id": str(alert.id)})


class AppriseChannel:
    kind = "apprise"

    def __init__(self, url: str) -> None:
        self.target = AppriseTarget(url)
        self.id = "apprise:" + _hash(url)
        self.label = "apprise " + self.target.shown

    def send(self, alert: RaisedAlert) -> None:
        self.target.send(subject(alert), alert_text(alert))


def build_channels(settings: Settings) -> list[Channel]:
    """Every configured channel, checked now: a broken setting is a ConfigError before anything is sent."""
    a = settings.alerts
    channels: list[Channel] = []
    if a.email_to:
        channels.append(EmailChannel(SmtpSender(settings.smtp), a.email_to))
    if a.webhooks:
        secret = read_secret_file(a.webhook_secret_file, "webhook secret")
        if not secret:
            raise ConfigError(f"[alerts] webhook_secret_file {a.webhook_secret_file} is empty")
        for url in dict.fromkeys(a.webhooks):
            target = WebhookTarget(url, secret.encode(), a.webhook_timeout, a.webhook_attempts, a.webhook_ca_file)
            channels.append(WebhookChannel(target))
    channels.extend(AppriseChannel(url) for url in dict.fromkeys(a.apprise))
    return channels
