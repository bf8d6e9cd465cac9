"""`dmarcflow tls summary`: SMTP TLS sessions and failures per policy domain, thin over analysis.tls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from dmarcflow.analysis.tls import TlsDomainSummary, summarise_tls
from dmarcflow.answers import tls_answer
from dmarcflow.cli.app import AppContext, main
from dmarcflow.cli.output import format_option, printable, to_csv, to_json, to_table
from dmarcflow.cli.window import read_window
from dmarcflow.cli.window import window_options as _window_options

Command = Callable[..., None]
window_options: Callable[[Command], Command] = _window_options  # a typed view of the shared option pair

CSV_COLUMNS = ("domain", "successful", "failed", "sessions", "success_rate", "reports", "reporters", "begin", "end",
               "sts_successful", "sts_failed", "tlsa_successful", "tlsa_failed", "no_policy_found_successful",
               "no_policy_found_failed", "top_failure")


@main.group()
def tls() -> None:
    """SMTP TLS reports (RFC 8460): whether senders could reach your MX hosts over TLS."""


@tls.command(name="summary")
@click.argument("domains", nargs=-1)
@window_options
@format_option()
@click.pass_obj
def tls_summary(app: AppContext, domains: tuple[str, ...], since: str | None, until: str | None, fmt: str) -> None:
    """Per policy domain: sessions that succeeded and failed, by policy type, and why they failed.

    With no DOMAIN, every domain with TLS reports in the period. Exit code 0
    even when there is no data (a message says so on stderr).
    """
    first, last = read_window(since, until)
    with app.open_store_readonly() as store:
        result = summarise_tls(store, domains, first, last)
    found = {s.domain for s in result}
    for name in dict.fromkeys(d.strip().lower().rstrip(".") for d in domains):
        if name not in found:
            click.echo(f"No TLS reports for {name} in this period.", err=True)
    if not domains and not result:
        click.echo("No TLS reports in this period.", err=True)
    if fmt == "json":
        click.echo(to_json(tls_answer(result)))
    elif fmt == "csv":
        click.echo(to_csv(CSV_COLUMNS, [csv_row(s) for s in result]), nl=False)
    elif result:
        click.echo("\n\n".join(render(s) for s in result))


def render(s: TlsDomainSummary) -> str:
    rate = f"{s.success_rate:.1%}" if s.success_rate is not None else "-"
    lines = [
        (f"{printable(s.domain)}: {s.successful:,} of {s.successful + s.failed:,} sessions succeeded ({rate}), "
         f"{s.reports} report(s) from {len(s.reporter_names)} reporter(s)"),
        (f"period {_day(s.begin_ts)} to {_day(s.end_ts)} (UTC days); reporters: "
         + ", ".join(printable(n) for n in s.reporter_names)),
        "",
        to_table(("policy", "successful", "failed", "success rate"),
                 [[p.type, p.successful, p.failed, _rate(p.successful, p.failed)] for p in s.policies]),
        "",
        f"Failures ({len(s.failures)})" if s.failures else "Failures: none",
    ]
    lines += [f"  {printable(f.text)}" + (f" (sending IP {printable(f.sending_mta_ip)})" if f.sending_mta_ip else "")
              for f in s.failures]
    return "\n".join(lines)


def csv_row(s: TlsDomainSummary) -> list[Any]:
    d = s.as_dict()
    types = {p.type: p for p in s.policies}
    per_type: list[Any] = []
    for name in ("sts", "tlsa", "no-policy-found"):
        p = types.get(name)
        per_type += [p.successful if p else 0, p.failed if p else 0]
    top = s.failures[0].text if s.failures else ""
    return [s.domain, s.successful, s.failed, d["sessions"], d["success_rate"], s.reports, d["reporters"],
            d["period"]["begin"], d["period"]["end"], *per_type, top]


def _rate(successful: int, failed: int) -> str:
    total = successful + failed
    return f"{successful / total:.1%}" if total else "-"


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()
