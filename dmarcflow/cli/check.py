"""`dmarcflow check DOMAIN...`: a thin command over dmarcflow.check."""

from __future__ import annotations

from typing import Any

import click

from dmarcflow.check import CheckRun, DomainCheck, domain_name, run_checks
from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.output import format_option, to_csv, to_json, wrap_text
from dmarcflow.cli.render import WIDTH
from dmarcflow.cli.summary import read_window
from dmarcflow.config import parse_nameserver

FINDING_CSV = ("domain", "severity", "code", "name", "message", "fix")


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
@click.argument("domains", nargs=-1, required=True, callback=_domains)
@click.option("--nameserver", "nameservers", multiple=True, metavar="IP[:PORT]", callback=_nameservers,
              help="Resolver to ask (repeatable; default: [dns] nameservers, else the system resolver).")
@click.option("--since", metavar="30d|DATE", help="Reports from this UTC day on (for selectors and sources).")
@click.option("--until", metavar="DATE", help="Reports up to this UTC day.")
@click.option("--wide", is_flag=True, help="Lines as long as their content (default: wrapped at 80 columns).")
@format_option()
@click.pass_obj
def check(app: AppContext, domains: tuple[str, ...], nameservers: tuple[str, ...], since: str | None,
          until: str | None, wide: bool, fmt: str) -> None:
    """DNS posture of each DOMAIN: DMARC, SPF, DKIM keys, MTA-STS, TLS-RPT, BIMI.

    DKIM selectors and sending IPs come from the stored reports of the domain.
    Exit code 0 when no finding is an error, 1 otherwise.
    """
    first, last = read_window(since, until)
    run = run_checks(domains, app.settings, nameservers=nameservers, since=first, until=last)
    path = app.settings.store.resolved_path()
    if not run.store_used:
        click.echo(f"No store at {path}: DKIM selectors and sending IPs from reports were not checked, and the "
                   "result is not saved.", err=True)
    elif not run.saved:
        click.echo(f"The store at {path} could only be read: the result is not saved.", err=True)
    if fmt == "json":
        click.echo(to_json({"domains": [r.as_dict() for r in run.results]}))
    elif fmt == "csv":
        click.echo(to_csv(FINDING_CSV, _csv_rows(run)), nl=False)
    else:
        click.echo("\n\n".join(render_check(r, None if wide else WIDTH) for r in run.results))
    if run.failed:
        failing = ", ".join(f"{r.domain} ({len(r.errors)})" for r in run.results if r.errors)
        click.echo(f"Error: {run.error_count} error finding(s): {failing}", err=True)
        click.get_current_context().exit(EXIT_FAILED)


def _csv_rows(run: CheckRun) -> list[list[Any]]:
    return [[r.domain, f.severity, f.code, f.name, f.message, f.fix] for r in run.results for f in r.findings]


def render_check(r: DomainCheck, width: int | None) -> str:
    counts = {s: sum(1 for f in r.findings if f.severity == s) for s in ("error", "warning", "info")}
    lines = [f"{r.domain}: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)"]
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


def _record_lines(r: DomainCheck, width: int | None) -> list[str]:
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
