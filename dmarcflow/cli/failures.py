"""`dmarcflow failures`: the latest DMARC failure reports by source IP, thin over analysis.failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from dmarcflow.analysis.failures import FailureListing, failure_detail, failure_dict, list_failures
from dmarcflow.answers import failures_answer
from dmarcflow.cli.app import AppContext, main
from dmarcflow.cli.output import format_option, printable, to_csv, to_json, to_table
from dmarcflow.cli.window import read_window
from dmarcflow.cli.window import window_options as _window_options
from dmarcflow.utc import iso

Command = Callable[..., None]
window_options: Callable[[Command], Command] = _window_options  # a typed view of the shared option pair

CSV_COLUMNS = ("id", "arrival_date", "source_ip", "reported_domain", "auth_failure", "identity_alignment",
               "delivery_result", "reporter", "dkim_domain", "spf_domain", "original_mail_from", "header_from",
               "subject", "message_id", "aggregate_class", "aggregate_messages")


@main.command()
@click.argument("domain", required=False)
@window_options
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="Only the N latest failure reports (0: all in the period).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True,
              help="Leave out the N latest first (paging, with --limit).")
@click.option("--id", "pk", type=click.IntRange(min=1), default=None,
              help="Only the failure report with this id (the id column of the listing), whatever its period.")
@format_option()
@click.pass_obj
def failures(app: AppContext, domain: str | None, since: str | None, until: str | None, limit: int, offset: int,
             pk: int | None, fmt: str) -> None:
    """DMARC failure reports (ruf), newest first, grouped by source IP.

    Each source IP is shown with the class the aggregate reports give it in the
    same period, when they know it. Bodies of reported messages are never stored
    (see [failure_reports] keep_samples), so none is shown.
    """
    if pk is not None:
        show_one(app, pk, fmt)
        return
    first, last = read_window(since, until)
    with app.open_store_readonly() as store:
        listing = list_failures(store, domain, first, last, app.settings.approved, limit=limit,
                                offset=offset)
    if not listing.failures:
        click.echo("No failure reports" + (f" for {domain}" if domain else "") + " in this period.", err=True)
    if fmt == "json":
        click.echo(to_json(failures_answer(listing)))
    elif fmt == "csv":
        click.echo(to_csv(CSV_COLUMNS, csv_rows(listing)), nl=False)
    elif listing.failures:
        click.echo(render(listing))


def show_one(app: AppContext, pk: int, fmt: str) -> None:
    """One failure report, as an item of the listing gives it (``GET /api/failures/ID`` answers the same)."""
    with app.open_store_readonly() as store:
        detail = failure_detail(store, pk, app.settings.approved)
    if detail is None:
        raise click.ClickException(f"no failure report {pk} is stored (`dmarcflow failures` lists their ids)")
    if fmt == "json":
        click.echo(to_json(detail))
    elif fmt == "csv":
        click.echo(to_csv(CSV_COLUMNS, [csv_row(detail)]), nl=False)
    else:
        click.echo("\n".join(f"{key}: {printable(_shown(value))}" for key, value in detail.items()))


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "-" if value is None or value == "" else str(value)


def render(listing: FailureListing) -> str:
    lines = [f"Source IPs ({len(listing.sources)})"]
    for s in listing.sources:
        aggregate = s.aggregate.text if s.aggregate else "not in aggregate reports for this period"
        lines.append(f"  {printable(s.source_ip)}: {s.failures} failure report(s) for "
                     f"{', '.join(printable(d) for d in s.domains)}, last {iso(s.last_ts)}; {aggregate}")
    rows = [[iso(f.arrival_ts), f.source_ip, f.reported_domain, ",".join(f.auth_failure) or "-",
             f.delivery_result, f.reporter, f.subject] for f in listing.failures]
    safe = [[printable(v) for v in row] for row in rows]
    columns = ("arrival", "source IP", "domain", "failed", "delivery", "reporter", "subject")
    lines += ["", f"Failure reports ({len(listing.failures)}, newest first)", to_table(columns, safe, max_width=120)]
    return "\n".join(lines)


def csv_rows(listing: FailureListing) -> list[list[Any]]:
    return [csv_row(failure_dict(f, listing.links.get((f.reported_domain, f.source_ip)))) for f in listing.failures]


def csv_row(item: dict[str, Any]) -> list[Any]:
    """A failure report's JSON object as one CSV row (lists joined by commas, the aggregate link flattened)."""
    d = dict(item)
    d["auth_failure"] = ",".join(d["auth_failure"])
    d["identity_alignment"] = ",".join(d["identity_alignment"]) if d["identity_alignment"] is not None else None
    aggregate = d["aggregate"]
    d["aggregate_class"] = aggregate["class"] if aggregate else None
    d["aggregate_messages"] = aggregate["messages"] if aggregate else None
    return [d[c] for c in CSV_COLUMNS]
