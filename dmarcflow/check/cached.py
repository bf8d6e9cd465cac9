"""The cached checks: what the last `dmarcflow check` of each domain found, read from the store without
asking the DNS (``check --cached``, the web UI's DNS posture page and its ``/api/checks``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dmarcflow.config import Settings
from dmarcflow.models import StoredCheck
from dmarcflow.store import Store


@dataclass(frozen=True)
class CachedChecks:
    checks: tuple[StoredCheck, ...]  # as named, or every checked domain in name order
    missing: tuple[str, ...]  # domains named that no check has run for

    @property
    def failed(self) -> bool:
        return any(c.errors for c in self.checks)

    @property
    def error_count(self) -> int:
        return sum(len(c.errors) for c in self.checks)


def read_cached(store: Store, domains: Sequence[str] = ()) -> CachedChecks:
    """The latest check of each domain (normalised names, see ``check.domain_name``), or of every one."""
    found = store.check_cache.latest(domains)
    have = {c.domain for c in found}
    return CachedChecks(tuple(found), tuple(d for d in dict.fromkeys(domains) if d not in have))


def cached_checks(settings: Settings, domains: Sequence[str] = ()) -> CachedChecks:
    """``read_cached`` on the configured store, opened read-only (it must exist)."""
    with Store.open_readonly(settings.store.resolved_path()) as store:
        return read_cached(store, domains)
