"""The alert rules over the other report kinds: DMARC failure reports and SMTP TLS reports.

- ``new_failure_reports``: failure reports arriving in the period that name a source IP no earlier failure
  report named for the same reported domain (at least ``failure_new_source_min_reports`` of them), or, when
  ``failure_known_source_min_reports`` is set, any source named that often. Key
  ``new_failure_reports:DOMAIN:IP``; info when the aggregate reports of the period class the IP authorised
  or forwarded (its own mail, altered on the way), else warning.
- ``tls_failures``: a policy domain whose failed TLS sessions in the period reach ``tls_min_failed_sessions``
  and ``tls_min_failure_share`` percent of its sessions, naming the result types and MX hosts. Key
  ``tls_failures:DOMAIN``; critical when at least half of the sessions failed, else warning.

Both clear once the period no longer holds the condition (a source named before the period is not new).
"""

from __future__ import annotations

from dmarcflow.alerts.context import RuleContext
from dmarcflow.analysis import Source
from dmarcflow.analysis.tls import TlsDomainSummary, failure_totals
from dmarcflow.models import Alert
from dmarcflow.normalise import organisational_domain
from dmarcflow.store.failures import FailureSourceCount
from dmarcflow.utc import iso

_OURS = ("authorised", "forwarded")
_SHOWN_TYPES = 3


def new_failure_reports(ctx: RuleContext) -> list[Alert]:
    s = ctx.settings
    found = []
    for c in ctx.failure_sources():
        new = not c.seen_before and c.reports >= s.failure_new_source_min_reports
        often = 0 < s.failure_known_source_min_reports <= c.reports
        if new or often:
            found.append(_failure_alert(ctx, c, _aggregate_source(ctx, c.reported_domain, c.source_ip), new))
    return found


def _aggregate_source(ctx: RuleContext, domain: str, ip: str) -> tuple[str, Source] | None:
    """The source the period's aggregate reports know for this IP: of the reported domain, else of its
    organisational domain (aggregate reports are per policy domain)."""
    for candidate in dict.fromkeys((domain, organisational_domain(domain))):
        if candidate in ctx.domains():
            match = next((x for x in ctx.sources(candidate, "ip") if x.ip == ip), None)
            return (candidate, match) if match else None
    return None


def _failure_alert(ctx: RuleContext, c: FailureSourceCount, aggregate: tuple[str, Source] | None, new: bool) -> Alert:
    domain, ip, period = c.reported_domain, c.source_ip, ctx.period.label()
    reporters = ", ".join(c.reporters)
    if new:
        message = (f"new source of DMARC failure reports for {domain}: {ip} is named in {c.reports} failure "
                   f"report(s) arriving in {period} (from {reporters}), never in one before")
    else:
        message = f"{ip} is named in {c.reports} DMARC failure report(s) for {domain} arriving in {period} (from {reporters})"
    policy_domain, src = aggregate or (domain, None)
    if src is not None:
        message += f"; also {src.klass} in aggregate reports of {policy_domain}: {src.messages} message(s)"
    see = f"`dmarcflow failures {domain} --since {ctx.period.first.isoformat()}` shows the headers of the reported messages"
    if src is not None and src.klass in _OURS:
        fix = (f"{ip} is {src.klass} in the aggregate reports of {policy_domain}: these are likely its own messages, "
               f"altered on the way (a forwarder or mailing list breaking DKIM); {see}.")
    else:
        fix = (f'If {ip} sends for you, add it to [approved."{policy_domain}"] and align its SPF or DKIM with '
               f"{domain}; otherwise it is spoofing {domain}: {see} (subject, From).")
    return Alert(
        rule="new_failure_reports", domain=domain, key=f"new_failure_reports:{domain}:{ip}",
        severity="info" if src is not None and src.klass in _OURS else "warning", message=message, fix=fix,
        details=(("source_ip", ip), ("reports", c.reports), ("first_arrival", iso(c.first_ts)),
                 ("last_arrival", iso(c.last_ts)), ("reporters", list(c.reporters)), ("new_source", new),
                 ("aggregate_class", src.klass if src else None), ("aggregate_messages", src.messages if src else None),
                 ("period", period)),
    )


def tls_failures(ctx: RuleContext) -> list[Alert]:
    s = ctx.settings
    found = []
    for summary in ctx.tls_summaries():
        sessions = summary.successful + summary.failed
        if not sessions or summary.failed < s.tls_min_failed_sessions:
            continue
        share = 100 * summary.failed / sessions
        if share >= s.tls_min_failure_share:
            found.append(_tls_alert(ctx, summary, share))
    return found


def _tls_alert(ctx: RuleContext, summary: TlsDomainSummary, share: float) -> Alert:
    domain, period = summary.domain, ctx.period.label()
    by_type = failure_totals(summary.failures, "result_type", "receiving_mx_hostname")
    named = [f"{t.value} {t.sessions} at {', '.join(t.involved) or 'an unnamed MX host'}" for t in by_type[:_SHOWN_TYPES]]
    if len(by_type) > _SHOWN_TYPES:
        named.append(f"and {len(by_type) - _SHOWN_TYPES} more result type(s)")
    sessions = summary.successful + summary.failed
    message = (f"SMTP TLS failed for {summary.failed} of {sessions} session(s) to {domain} ({share:.1f}%) in {period}"
               + (": " + "; ".join(named) if named else " (the reports name no failure detail)"))

    def totals(key: str) -> dict[str, int]:
        return {t.value or "not reported": t.sessions for t in failure_totals(summary.failures, key, "result_type")}

    return Alert(
        rule="tls_failures", domain=domain, key=f"tls_failures:{domain}",
        severity="critical" if 2 * summary.failed >= sessions else "warning", message=message,
        fix=_tls_fix(domain, summary, ctx.period.first.isoformat()),
        details=(("sessions", sessions), ("failed", summary.failed), ("failure_share", round(share, 2)),
                 ("result_types", totals("result_type")), ("mx_hosts", totals("receiving_mx_hostname")),
                 ("sending_ips", totals("sending_mta_ip")), ("reporters", list(summary.reporter_names)),
                 ("period", period)),
    )


def _tls_fix(domain: str, summary: TlsDomainSummary, since: str) -> str:
    see = f"`dmarcflow tls summary {domain} --since {since}` lists every failure with its MX host and reporters."
    if not summary.failures:
        return see
    top = summary.failures[0]
    mx = top.receiving_mx_hostname or "the MX host"
    advice = {
        "certificate-expired": f"Renew the certificate of {mx}, and check that every MX host serves the renewed one.",
        "certificate-host-mismatch": f"Give {mx} a certificate whose names include {mx} (and every mx line of "
                                     f"the MTA-STS policy of {domain}).",
        "certificate-not-trusted": f"Serve a certificate from a public CA, with its whole chain, on {mx}.",
        "validation-failure": f"Serve a valid certificate from a public CA, with its whole chain, on {mx}.",
        "starttls-not-supported": f"Enable STARTTLS on {mx}, or take it out of the MX records and the MTA-STS "
                                  f"policy of {domain}.",
        "tlsa-invalid": f"Publish TLSA records for {mx} (_25._tcp.{mx}) that match its certificate.",
        "dnssec-invalid": f"Repair the DNSSEC chain of {mx} and its TLSA records.",
        "dane-required": f"Repair DANE for {mx}: TLSA records at _25._tcp.{mx} matching its certificate, under valid DNSSEC.",
        "sts-policy-fetch-error": f"Make https://mta-sts.{domain}/.well-known/mta-sts.txt reachable, with a valid certificate.",
        "sts-policy-invalid": f"Fix the MTA-STS policy file of {domain} (its version, mode, mx and max_age lines).",
        "sts-webpki-invalid": f"Serve a valid public certificate for mta-sts.{domain}.",
    }.get(top.result_type)
    return f"{advice} {see}" if advice else see
