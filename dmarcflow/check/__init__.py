"""`dmarcflow check`: the DNS posture of domains (DMARC, SPF, DKIM, MTA-STS, TLS-RPT, BIMI), linked to the
sources and DKIM selectors their stored reports show.

Public API::

    run_checks(domains, settings, *, nameservers=(), since=None, until=None) -> CheckRun
    cached_checks(settings, domains=()) -> CachedChecks   (the saved results, no DNS query)
    read_cached(store, domains=()) -> CachedChecks
    CODES: code -> (severity, what it means)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date

from dmarcflow.analysis.approved import validate_all
from dmarcflow.check.cached import CachedChecks, cached_checks, read_cached
from dmarcflow.check.codes import CODES
from dmarcflow.check.dns import DnsClient
from dmarcflow.check.posture import DomainCheck, check_all
from dmarcflow.config import Settings
from dmarcflow.errors import StoreError, StoreNotFoundError
from dmarcflow.store import Store

__all__ = ["CODES", "CachedChecks", "CheckRun", "DomainCheck", "cached_checks", "domain_name", "read_cached",
           "run_checks"]

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class CheckRun:
    results: tuple[DomainCheck, ...]
    store_used: bool  # False: no store at the configured path, so nothing from reports and nothing saved
    saved: bool = False  # False also when the store could only be opened read-only

    @property
    def failed(self) -> bool:
        return any(r.errors for r in self.results)

    @property
    def error_count(self) -> int:
        return sum(len(r.errors) for r in self.results)


def domain_name(text: str) -> str:
    """A domain given on the command line, normalised; ValueError says what is wrong."""
    name = text.strip().lower().rstrip(".")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{text!r} is not a domain name") from None
    if not _HOSTNAME.match(name):
        raise ValueError(f"{text!r} is not a domain name (e.g. example.com; no URLs or addresses)")
    return name


def run_checks(domains: tuple[str, ...], settings: Settings, *, nameservers: tuple[str, ...] = (),
               since: date | None = None, until: date | None = None) -> CheckRun:
    """Check each domain; with a store, link its reports and save each result (``summary`` shows the errors).

    Without a store at the configured path, only the DNS is checked; a store that cannot be written (a
    read-only mount) is read, and the result is not saved.
    """
    validate_all(settings.approved)
    dns = DnsClient(settings.dns, nameservers)
    path = settings.store.resolved_path()
    now = int(time.time())
    try:
        store = Store.open(path, create=False)
    except StoreNotFoundError:
        return CheckRun(tuple(check_all(dns, domains, None, since, until, settings.approved, now)), False)
    except StoreError:
        store = Store.open_readonly(path)  # its own StoreError, if it cannot be read either, says why
    with store:
        results = check_all(dns, domains, store, since, until, settings.approved, now)
        if store.readonly:
            return CheckRun(tuple(results), True, saved=False)
        with store.transaction():
            for result in results:
                store.checks.save(result.domain, result.checked_at, result.as_dict())
    return CheckRun(tuple(results), True, saved=True)
