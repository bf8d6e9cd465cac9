"""Load-time checks of the [smtp], [alerts] and [digest] sections (called by config._validate)."""

from __future__ import annotations

from urllib.parse import urlsplit

from dmarcflow.config import AlertsSettings, DigestSettings, SmtpSettings
from dmarcflow.credentials import CHOICES, configured_kinds
from dmarcflow.errors import ConfigError
from dmarcflow.models import ALERT_SEVERITIES, CHECK_RECORDS
from dmarcflow.schedule import ScheduleError, parse_schedule, parse_zone
from dmarcflow.transport import is_loopback
from dmarcflow.transport import redact_url as _shown

SMTP_TLS = ("starttls", "ssl", "none")
VIEWS = ("ip", "sender")


def check_section(obj: SmtpSettings | AlertsSettings | DigestSettings, section: str) -> None:
    if isinstance(obj, SmtpSettings):
        check_smtp(obj, section)
    elif isinstance(obj, AlertsSettings):
        check_alerts(obj, section)
    else:
        check_digest(obj, section)


def check_smtp(s: SmtpSettings, section: str) -> None:
    if s.tls not in SMTP_TLS:
        raise ConfigError(f"[{section}] tls must be starttls, ssl or none, not {s.tls!r}")
    if not 0 <= s.port <= 65535 or s.timeout <= 0:
        raise ConfigError(f"[{section}] port must be 0..65535 and timeout > 0")
    if s.tls == "none" and s.host and not is_loopback(s.host) and not s.allow_insecure:
        raise ConfigError(f'[{section}] tls = "none" sends credentials and mail in clear: only allowed for a '
                          f"loopback host, not {s.host!r} (set allow_insecure = true to permit it)")
    if s.user and configured_kinds(s) > 1:
        raise ConfigError(f"[{section}] set only one of {CHOICES}")
    if s.from_ and not is_address(s.from_):
        raise ConfigError(f"[{section}] from: {s.from_!r} is not an email address")


def check_alerts(a: AlertsSettings, section: str) -> None:
    if not 1 <= a.period_days <= 366:
        raise ConfigError(f"[{section}] period_days must be 1..366, not {a.period_days}")
    if a.new_source_view not in VIEWS:
        raise ConfigError(f"[{section}] new_source_view must be ip or sender, not {a.new_source_view!r}")
    positive = {"new_source_min_messages": a.new_source_min_messages, "own_sender_min_failing": a.own_sender_min_failing,
                "pass_rate_min_messages": a.pass_rate_min_messages, "stopped_days": a.stopped_days,
                "reporter_silent_days": a.reporter_silent_days,
                "failure_new_source_min_reports": a.failure_new_source_min_reports,
                "tls_min_failed_sessions": a.tls_min_failed_sessions}
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"[{section}] {key} must be at least 1, not {value}")
    if not 0 < a.pass_rate_min_drop <= 100:
        raise ConfigError(f"[{section}] pass_rate_min_drop must be more than 0 and at most 100 (percentage points)")
    if a.failure_known_source_min_reports < 0:
        raise ConfigError(f"[{section}] failure_known_source_min_reports must be 0 (never) or more, not "
                          f"{a.failure_known_source_min_reports}")
    if not 0 <= a.tls_min_failure_share <= 100:
        raise ConfigError(f"[{section}] tls_min_failure_share must be 0..100 (percent of the sessions), not "
                          f"{a.tls_min_failure_share}")
    if not 1 <= a.reporter_daily_days <= a.period_days:
        raise ConfigError(f"[{section}] reporter_daily_days must be 1..period_days ({a.period_days})")
    if a.webhook_timeout <= 0 or not 1 <= a.webhook_attempts <= 10:
        raise ConfigError(f"[{section}] webhook_timeout must be > 0 and webhook_attempts 1..10")
    _check_webhooks(a, section)
    check_addresses(a.email_to, f"[{section}] email_to")
    _check_dns_changed(a, section)


def _check_webhooks(a: AlertsSettings, section: str) -> None:
    for url in a.webhooks:
        check_webhook_url(url, a.allow_http, section)
    if a.webhooks and not a.webhook_secret_file:
        raise ConfigError(f"[{section}] webhooks need webhook_secret_file: every request is signed with its secret")


def _check_dns_changed(a: AlertsSettings, section: str) -> None:
    unknown = [r for r in a.dns_changed_records if r not in CHECK_RECORDS]
    if unknown:
        raise ConfigError(f"[{section}] dns_changed_records: {', '.join(map(repr, unknown))} is not a record type "
                          f"(use any of {', '.join(CHECK_RECORDS)})")
    if a.dns_changed_min_severity not in ALERT_SEVERITIES:
        raise ConfigError(f"[{section}] dns_changed_min_severity must be info, warning or critical, not "
                          f"{a.dns_changed_min_severity!r}")


def check_webhook_url(url: str, allow_http: bool, section: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"[{section}] webhooks: {_shown(url)} is not an http(s) URL")
    if parts.username or parts.password:
        raise ConfigError(f"[{section}] webhooks: {_shown(url)}: no credentials in the URL (requests are signed)")
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_http:
        raise ConfigError(f"[{section}] webhooks: {_shown(url)}: http is only allowed for a loopback host "
                          "(use https, or set allow_http = true)")


def check_digest(d: DigestSettings, section: str) -> None:
    try:
        parse_zone(d.timezone)
        if d.schedule:
            parse_schedule(d.schedule, d.timezone)
    except ScheduleError as exc:
        raise ConfigError(f"[{section}] {exc}") from None
    if not 0 <= d.days <= 366:
        raise ConfigError(f"[{section}] days must be 0..366, not {d.days}")
    check_addresses(d.to, f"[{section}] to")


def check_addresses(addresses: tuple[str, ...], where: str) -> None:
    for address in addresses:
        if not is_address(address):
            raise ConfigError(f"{where}: {address!r} is not an email address")


def is_address(text: str) -> bool:
    local, at, domain = text.strip().rpartition("@")
    return bool(at and local and domain and "." in domain and not any(c.isspace() or c in "<>,;" for c in text.strip()))
