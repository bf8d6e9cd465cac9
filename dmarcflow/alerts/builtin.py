"""The built-in alert rules. Each takes a RuleContext and returns the conditions it finds now.

Keys are stable: ``rule:domain[:subject]``, the subject being the source (IP or sender) or the reporter.
Texts name the domain, the figures and the period, and carry a fix where one is known. Strings that came
from reports (sender names, reporter names) go into texts as they are: every renderer escapes them.
"""

from __future__ import annotations

from dmarcflow.alerts.context import RuleContext
from dmarcflow.analysis import Source
from dmarcflow.changes import source_key
from dmarcflow.models import Alert
from dmarcflow.store.reports import ReporterActivity
from dmarcflow.utc import iso

DAY = 86400


def new_unauthorised_source(ctx: RuleContext) -> list[Alert]:
    s, found = ctx.settings, []
    for domain in ctx.domains():
        policy = summary.policy.p if (summary := ctx.summary(domain, ctx.period)) and summary.policy else None
        for src in ctx.new_sources(domain, s.new_source_view):
            if src.klass != "unauthorised" or src.approved or src.dmarc_fail < s.new_source_min_messages:
                continue
            name = _name(src)
            found.append(Alert(
                rule="new_unauthorised_source", domain=domain, key=f"new_unauthorised_source:{domain}:{source_key(src)}",
                severity="warning",
                message=(f"new unauthorised source for {domain}: {name} sent {src.dmarc_fail} message(s) failing "
                         f"DMARC in {ctx.period.label()}, never seen before ({src.explanation})"),
                fix=_impostor_fix(domain, name, policy),
                details=_source_details(src) + (("period", ctx.period.label()),),
            ))
    return found


def _impostor_fix(domain: str, name: str, policy: str | None) -> str:
    if_ours = f'If {name} sends for you, add it to [approved."{domain}"] and align its SPF or DKIM with {domain}'
    if policy in ("quarantine", "reject"):
        return f"{if_ours}; otherwise it is spoofing {domain} and receivers already apply p={policy} to it."
    return f"{if_ours}; otherwise it is spoofing {domain}, which p=none lets through: move towards p=quarantine."


def own_sender_failing(ctx: RuleContext) -> list[Alert]:
    s, found = ctx.settings, []
    for domain in ctx.domains():
        for src in ctx.sources(domain, "sender"):
            ours = src.approved or src.klass == "misconfigured"
            if not ours or src.dmarc_fail < s.own_sender_min_failing:
                continue
            status = f"approved by {src.approved_by}" if src.approved else "not on the approved list"
            found.append(Alert(
                rule="own_sender_failing", domain=domain, key=f"own_sender_failing:{domain}:{src.sender}",
                severity="critical" if src.approved else "warning",
                message=(f"{src.sender} ({status}) failed DMARC for {domain} with {src.dmarc_fail} of "
                         f"{src.messages} message(s) in {ctx.period.label()}: {src.explanation}"),
                fix=_sender_fix(src, domain),
                details=_source_details(src) + (("period", ctx.period.label()),),
            ))
    return found


def _sender_fix(src: Source, domain: str) -> str:
    if src.fix:  # the analysis library's fix for this sender (per service where its catalogue has one)
        return src.fix
    action = (f"make it sign with DKIM for {domain} (d={domain}) or send with a return path under {domain}, "
              "so that SPF or DKIM aligns.")
    if src.approved:
        return action[0].upper() + action[1:]
    return f'If {src.sender} is yours, approve it in [approved."{domain}"] and {action}'


def pass_rate_drop(ctx: RuleContext) -> list[Alert]:
    s, found = ctx.settings, []
    previous = ctx.period.previous()
    for domain in ctx.domains():
        now, before = ctx.summary(domain, ctx.period), ctx.summary(domain, previous)
        if now is None or before is None or min(now.messages, before.messages) < s.pass_rate_min_messages:
            continue
        rate, old = 100 * now.dmarc_pass / now.messages, 100 * before.dmarc_pass / before.messages
        if old - rate < s.pass_rate_min_drop:
            continue
        failing = sorted((x for x in ctx.sources(domain, "sender") if x.dmarc_fail), key=lambda x: -x.dmarc_fail)[:3]
        worst = ", ".join(f"{x.sender} ({x.dmarc_fail})" for x in failing)
        found.append(Alert(
            rule="pass_rate_drop", domain=domain, key=f"pass_rate_drop:{domain}", severity="warning",
            message=(f"DMARC pass rate for {domain} fell from {old:.1f}% ({previous.label()}) to {rate:.1f}% "
                     f"({ctx.period.label()}), {old - rate:.1f} points"),
            fix=(f"Most failing messages now come from {worst}: see `dmarcflow senders {domain} "
                 f"--since {ctx.period.first.isoformat()}` for why each fails." if worst else None),
            details=(("pass_rate", round(rate, 2)), ("previous_pass_rate", round(old, 2)),
                     ("messages", now.messages), ("previous_messages", before.messages), ("period", ctx.period.label()),
                     ("previous_period", previous.label())),
        ))
    return found


def reports_stopped(ctx: RuleContext) -> list[Alert]:
    s, found = ctx.settings, []
    by_domain: dict[str, list[ReporterActivity]] = {}
    for activity in ctx.reporter_activity():
        by_domain.setdefault(activity.domain, []).append(activity)
    for domain, reporters in by_domain.items():
        last = max(r.last_end_ts for r in reporters)
        silent = (ctx.now_ts - last) // DAY
        if silent >= s.stopped_days:
            found.append(Alert(
                rule="reports_stopped", domain=domain, key=f"reports_stopped:{domain}", severity="warning",
                message=f"no DMARC report for {domain} for {silent} day(s): the last one ended {iso(last)}",
                fix=(f"Check that the DMARC record of {domain} still names the rua address dmarcflow reads, and that "
                     "the mailbox is fetched (`dmarcflow watch` running, its /healthz ok)."),
                details=(("last_report_end", iso(last)), ("silent_days", silent)),
            ))
            continue  # the domain's alert says it all: no alert per reporter on top
        for r in reporters:
            quiet = (ctx.now_ts - r.last_end_ts) // DAY
            if r.recent_days >= s.reporter_daily_days and quiet >= s.reporter_silent_days:
                found.append(Alert(
                    rule="reports_stopped", domain=domain, key=f"reports_stopped:{domain}:{r.reporter}",
                    severity="info",
                    message=(f"{r.reporter} reported on {domain} daily ({r.recent_days} of {s.period_days} days) but "
                             f"has been silent for {quiet} day(s): its last report ended {iso(r.last_end_ts)}"),
                    fix=(f"Other reporters still report on {domain}, so the pipeline works: {r.reporter} may have "
                         "stopped sending reports, or mail from your domain to it stopped."),
                    details=(("reporter", r.reporter), ("last_report_end", iso(r.last_end_ts)), ("silent_days", quiet),
                             ("reported_days", r.recent_days)),
                ))
    return found


def _name(src: Source) -> str:
    if src.ip is None:
        return f"{src.sender} ({len(src.ips)} IP(s))"
    return src.ip if src.sender == src.ip else f"{src.ip} ({src.sender})"


def _source_details(src: Source) -> tuple[tuple[str, object], ...]:
    return (("source", source_key(src)), ("ips", list(src.ips)), ("sender", src.sender), ("class", src.klass),
            ("messages", src.messages), ("dmarc_fail", src.dmarc_fail), ("country", src.country),
            ("as_name", src.as_name), ("approved_by", src.approved_by), ("explanation", src.explanation))
