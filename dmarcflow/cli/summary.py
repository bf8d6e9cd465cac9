"""`dmarcflow summary` and `dmarcflow senders`: thin commands over dmarcflow.analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from dmarcflow.analysis import VIEWS, DomainSummary, Source, has_data, list_sources, overview, summarise_from
from dmarcflow.answers import domain_name, senders_answer, summary_answer
from dmarcflow.backends import BACKENDS, BackendMismatch, summary_backend
from dmarcflow.cli.app import AppContext, main
from dmarcflow.cli.output import FC, format_option, to_csv, to_json
from dmarcflow.cli.render import WIDTH, render_overview, render_summary, source_table
from dmarcflow.cli.window import read_window, window_options
from dmarcflow.cycles import collector_paused
from dmarcflow.models import SOURCE_CLASSES

SOURCE_CSV = ("ip", "sender", "reverse_dns", "country", "asn", "as_name", "messages", "dmarc_pass", "dmarc_fail",
              "spf_aligned", "dkim_aligned", "class", "approved", "approved_by", "verdict", "explanation",
              "service", "pool", "not_ours_by", "fix", "approve_with")
SUMMARY_CSV = ("domain", "messages", "dmarc_pass", "dmarc_fail", "spf_aligned", "dkim_aligned", "disposition_none",
               "disposition_quarantine", "disposition_reject", "reports", "reporters", "begin", "end", "sources",
               "unauthorised", "legitimate_messages", "legitimate_failing", "quarantine_share", "reject_share",
               "recommendation", "status", "severity", "at_risk_messages", "impostor_messages", "dns_errors")


def view_option(f: FC) -> FC:
    f = click.option("--wide", is_flag=True,
                     help="Tables and text as wide as their content (default: wrapped at 80 columns; never cut).")(f)
    return click.option("--view", type=click.Choice(VIEWS), default="ip", show_default=True,
                        help="One row per sending IP, or per sender (service, rDNS base domain or AS).")(f)


@main.command()
@click.argument("domains", nargs=-1)
@window_options
@view_option
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many top sources to list per domain (0: all).")
@click.option("--backend", type=click.Choice(BACKENDS), default="sqlite",
              show_default=True, help="Answer from the SQLite store, or from the search index configured in [index] "
                                      "(index: whichever engine it names; elasticsearch, opensearch: that engine).")
@format_option()
@click.pass_obj
def summary(app: AppContext, domains: tuple[str, ...], since: str | None, until: str | None,
            view: str, wide: bool, top: int, backend: str, fmt: str) -> None:
    """Per policy domain: volumes, alignment, dispositions, sources, what to fix, impostors, readiness.

    With no DOMAIN, every domain with reports in the period, worst first, after
    an overview of one line per domain. Exit code 0 even when there is no data
    (a message says so on stderr).
    """
    # One pause for the whole command, left only once the summary is freed: between the library's own
    # pauses, the collector would walk every object the summary built, and find nothing to free.
    with collector_paused():
        _summary(app, domains, since, until, view, wide, top, backend, fmt)


def _summary(app: AppContext, domains: tuple[str, ...], since: str | None, until: str | None,
             view: str, wide: bool, top: int, backend: str, fmt: str) -> None:
    first, last = read_window(since, until)
    order = "name" if domains else "worst"
    try:
        with summary_backend(backend, app.settings) as source:
            result = summarise_from(source, domains, first, last, app.settings.approved, view=view, top=top,
                                    order=order)
    except BackendMismatch as exc:
        raise click.UsageError(str(exc)) from None
    _print_summary(result, domains, order, view, wide, fmt)


def _print_summary(result: list[DomainSummary], domains: tuple[str, ...], order: str, view: str, wide: bool,
                   fmt: str) -> None:
    _report_missing(domains, result)
    width = None if wide else WIDTH
    if fmt == "json":
        click.echo(to_json(summary_answer(result)))
    elif fmt == "csv":
        click.echo(to_csv(SUMMARY_CSV, [_summary_csv_row(s) for s in result]), nl=False)
    elif result:
        statuses = overview(result) if order == "worst" else [s.status for s in result]
        parts = [render_overview(statuses, width, worst_first=order == "worst")]
        parts = parts if (not domains or len(result) > 1) else []
        click.echo("\n\n".join(parts + [render_summary(s, view, width) for s in result]))


@main.command()
@click.argument("domain")
@click.option("--class", "klass", type=click.Choice(SOURCE_CLASSES), help="Only sources of this class.")
@window_options
@view_option
@format_option()
@click.pass_obj
def senders(app: AppContext, domain: str, klass: str | None, since: str | None, until: str | None,
            view: str, wide: bool, fmt: str) -> None:
    """Every source that sent mail as DOMAIN, with its class, the reason for it, its fix and, when it is
    not listed, the config line that approves it."""
    first, last = read_window(since, until)
    with app.open_store_readonly() as store:
        found = has_data(store, domain, first, last)
        sources = list_sources(store, domain, first, last, app.settings.approved, klass, view)
    name = domain_name(domain)
    if not found:
        click.echo(f"No data for {name} in this period.", err=True)
    if fmt == "json":
        click.echo(to_json(senders_answer(name, sources)))
    elif fmt == "csv":
        click.echo(to_csv(SOURCE_CSV, [_source_csv_row(s) for s in sources]), nl=False)
    elif found:
        title = f"{len(sources)} {klass + ' ' if klass else ''}source(s) sending as {name}"
        table = source_table(sources, view, None if wide else WIDTH, details=True, domain=name)
        click.echo("\n".join([title, ""] + table))


def _report_missing(domains: Sequence[str], result: Sequence[DomainSummary]) -> None:
    present = {s.domain for s in result}
    for name in dict.fromkeys(d.strip().lower().rstrip(".") for d in domains):
        if name not in present:
            click.echo(f"No data for {name} in this period.", err=True)
    if not domains and not result:
        click.echo("No data in this period.", err=True)


def _source_csv_row(s: Source) -> list[Any]:
    d = s.as_dict()
    d["ip"] = d["ip"] or " ".join(d["ips"])
    return [d[c] for c in SOURCE_CSV]


def _summary_csv_row(s: DomainSummary) -> list[Any]:
    d = s.as_dict()
    r = s.readiness
    return [s.domain, s.messages, s.dmarc_pass, s.dmarc_fail, s.spf_aligned, s.dkim_aligned,
            s.dispositions.get("none", 0), s.dispositions.get("quarantine", 0), s.dispositions.get("reject", 0),
            s.reports, s.reporters, d["period"]["begin"], d["period"]["end"], s.source_count, len(s.unauthorised),
            r.legitimate_messages, r.legitimate_failing, r.quarantine.share, r.reject.share, r.recommendation,
            d["status"], d["severity"], d["at_risk_messages"], d["impostor_messages"],
            len(s.dns_check.errors) if s.dns_check else ""]
