"""`dmarcflow check DOMAIN...`: a thin command over dmarcflow.check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import click

from dmarcflow.answers import checks_answer
from dmarcflow.check import cached_checks, domain_name, run_checks
from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.output import format_option, to_csv, to_json, wrap_text
from dmarcflow.cli.render import WIDTH
from dmarcflow.cli.window import read_window
from dmarcflow.config import parse_nameserver
from dmarcflow.models import Finding
from dmarcflow.utc import iso

FINDING_CSV = ("domain", "severity", "code", "name", "message", "fix")


class CheckResult(Protocol):
    """A check as printed: a fresh one (``check.DomainCheck``) or a saved one (``models.StoredCheck``)."""

    @property
    def domain(self) -> str: ...
    @property
    def checked_at(self) -> int: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def records(self) -> Mapping[str, Any]: ...
    @property
    def reports(self) -> object: ...
    def as_dict(self) -> dict[str, Any]: ...


def _domains(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(domain_name(v) for v in values))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _nameservers(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            parse_nameserver(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return values


@main.command()
@click.argument("domains", nargs=-1, callback=_domains, metavar="DOMAINS...")
@click.option("--nameserver", "nameservers", multiple=True, metavar="IP[:PORT]", callback=_nameservers,
              help="Resolver to ask (repeatable; default: [dns] nameservers, else the system resolver).")
@click.option("--since", metavar="30d|DATE", help="Reports from this UTC day on (for selectors and sources).")
@click.option("--until", metavar="DATE", help="Reports up to this UTC day.")
@click.option("--cached", is_flag=True, help="Print the last saved check of each DOMAIN (every checked domain "
                                             "when none is named) without asking the DNS.")
@click.option("--wide", is_flag=True, help="Lines as long as their content (default: wrapped at 80 columns).")
@format_option()
@click.pass_obj
def check(app: AppContext, domains: tuple[str, ...], nameservers: tuple[str, ...], since: str | None,
          until: str | None, cached: bool, wide: bool, fmt: str) -> None:
    """DNS posture of each DOMAIN: DMARC, SPF, DKIM keys, MTA-STS, TLS-RPT, BIMI.

    DKIM selectors and sending IPs come from the stored reports of the domain.
    Each result is saved in the store; --cached prints the saved ones.
    Exit code 0 when no finding is an error, 1 otherwise.
    """
    if cached:
        _print_cached(app, domains, nameservers, since, until, wide, fmt)
        return
    if not domains:
        raise click.MissingParameter(param_type="argument", param_hint="'DOMAINS...'")
    first, last = read_window(since, until)
    run = run_checks(domains, app.settings, nameservers=nameservers, since=first, until=last)
    path = app.settings.store.resolved_path()
    if not run.store_used:
        click.echo(f"No store at {path}: DKIM selectors and sending IPs from reports were not checked, and the "
                   "result is not saved.", err=True)
    elif not run.saved:
        click.echo(f"The store at {path} could only be read: the result is not saved.", err=True)
    _print(run.results, fmt, None if wide else WIDTH, cached=False)
    _exit_on_errors(run.results)


def _print_cached(app: AppContext, domains: tuple[str, ...], nameservers: tuple[str, ...], since: str | None,
                  until: str | None, wide: bool, fmt: str) -> None:
    if nameservers or since or until:
        raise click.UsageError("--cached prints the saved checks: --nameserver, --since and --until do not apply")
    found = cached_checks(app.settings, domains)
    for name in found.missing:
        click.echo(f"No check of {name} is saved: run `dmarcflow check {name}`.", err=True)
    if not domains and not found.checks:
        click.echo("No check is saved: run `dmarcflow check DOMAIN...`.", err=True)
    _print(found.checks, fmt, None if wide else WIDTH, cached=True)
    _exit_on_errors(found.checks)


def _print(results: Sequence[CheckResult], fmt: str, width: int | None, *, cached: bool) -> None:
    if fmt == "json":
        click.echo(to_json(checks_answer(results)))
    elif fmt == "csv":
        click.echo(to_csv(FINDING_CSV, _csv_rows(results)), nl=False)
    elif results:
        click.echo("\n\n".join(render_check(r, width, cached=cached) for r in results))


def _exit_on_errors(results: Sequence[CheckResult]) -> None:
    failing = [r for r in results if any(f.severity == "error" for f in r.findings)]
    if failing:
        count = sum(1 for r in failing for f in r.findings if f.severity == "error")
        listed = ", ".join(f"{r.domain} ({sum(1 for f in r.findings if f.severity == 'error')})" for r in failing)
        click.echo(f"Error: {count} error finding(s): {listed}", err=True)
        click.get_current_context().exit(EXIT_FAILED)


def _csv_rows(results: Sequence[CheckResult]) -> list[list[Any]]:
    return [[r.domain, f.severity, f.code, f.name, f.message, f.fix] for r in results for f in r.findings]


def render_check(r: CheckResult, width: int | None, *, cached: bool = False) -> str:
    counts = {s: sum(1 for f in r.findings if f.severity == s) for s in ("error", "warning", "info")}
    when = f" (saved check of {iso(r.checked_at)})" if cached else ""
    lines = [f"{r.domain}: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s){when}"]
    lines += _record_lines(r, width)
    if r.findings:
        lines.append("")
    for f in r.findings:
        lines += wrap_text(f"{f.severity:<7}  {f.code}: {f.message}", width, "", " " * 9)
        lines += wrap_text("fix: " + f.fix, width, " " * 9, " " * 14)
    return "\n".join(lines)


def _text(item: dict[str, Any]) -> str:
    if item.get("status") == "unreachable":
        return "did not answer"
    return item.get("record") or "none"


def _record_lines(r: CheckResult, width: int | None) -> list[str]:
    rec = r.records
    out = []
    dmarc = rec.get("dmarc") or {}
    where = f" (inherited from {dmarc.get('found_at')})" if dmarc.get("inherited") else ""
    out += wrap_text(f"DMARC    {dmarc.get('name')}: {_text(dmarc)}{where}", width, "  ", " " * 11)
    spf = rec.get("spf") or {}
    extra = f" ({spf['lookups']} DNS lookups, {spf['void_lookups']} void)" if "lookups" in spf else ""
    out += wrap_text(f"SPF      {spf.get('name')}: {_text(spf)}{extra}", width, "  ", " " * 11)
    sources = spf.get("sources") or []
    if sources:
        passing = sum(1 for s in sources if s["result"] == "pass")
        out.append(f"           {len(sources)} reported source(s) relying on SPF: {passing} authorised")
    for key in rec.get("dkim") or []:
        size = f"{key.get('key_type')} {key.get('bits')} bits" if key.get("bits") else key.get("status")
        out += wrap_text(f"DKIM     {key['name']}: {size} ({key['messages']:,} message(s) in reports)", width, "  ",
                         " " * 11)
    if r.reports is None:
        out.append("  DKIM     no stored reports for this domain: selectors and sources not checked")
    for label, key in (("MTA-STS", "mta_sts"), ("TLS-RPT", "tlsrpt"), ("BIMI", "bimi")):
        item = rec.get(key) or {}
        out += wrap_text(f"{label:<8} {item.get('name')}: {_text(item)}", width, "  ", " " * 11)
    return out
