"""Apprise URLs (Slack, Teams, Telegram, ntfy, ...) through the optional ``apprise`` package.

Apprise is imported only when a URL is configured; without the package the configuration is refused with
the command that installs it. Apprise URLs embed their tokens, so they are never logged: messages show the
scheme only.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from dmarcflow.errors import ConfigError, DeliveryError

INSTALL_HINT = "pip install 'dmarcflow[apprise]'"


def _apprise() -> Any:
    try:
        return importlib.import_module("apprise")
    except ImportError:
        raise ConfigError(f"[alerts] apprise URLs are set, but the optional apprise package is not installed: "
                          f"{INSTALL_HINT}") from None


class AppriseTarget:
    def __init__(self, url: str) -> None:
        module = _apprise()
        logging.getLogger("apprise").setLevel(logging.ERROR)  # its info lines can carry the URL's token
        self.shown = url.split("://", 1)[0] + "://..." if "://" in url else "an Apprise URL"
        self._apprise = module.Apprise()
        if not self._apprise.add(url):
            raise ConfigError(f"[alerts] apprise: {self.shown} is not a URL Apprise understands")

    def send(self, title: str, body: str) -> None:
        if not self._apprise.notify(title=title, body=body):
            raise DeliveryError(f"apprise {self.shown}: the notification was not accepted")
