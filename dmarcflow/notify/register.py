"""The alerts' and the digest's daemon hooks, registered as entry points (pyproject.toml).

Cheap to import: the daemon loads every registered factory at start, and the alert channels, the SMTP
client and the digest renderer load only when a factory finds its feature configured.
"""

from __future__ import annotations

from collections.abc import Callable

from dmarcflow.config import Settings


def alerts_hook(settings: Settings) -> Callable[[], None] | None:
    """The alert rules after a pass that stored something, when [alerts] has somewhere to deliver."""
    from dmarcflow.notify.hooks import alerts_hook as make

    return make(settings)


def tick_hooks(settings: Settings) -> list[Callable[[], None]]:
    """Retries of pending alert deliveries, and the [digest] schedule."""
    from dmarcflow.notify.hooks import tick_hooks as make

    return make(settings)
