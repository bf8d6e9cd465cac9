"""`dmarcflow digest` and `dmarcflow alerts`: thin commands over dmarcflow.digest and dmarcflow.alerts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from dmarcflow.alerts import AlertRun, run_configured
from dmarcflow.analysis.window import WindowError, parse_since, parse_until
from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.output import format_option, to_csv, to_json, to_table
from dmarcflow.digest import delivery, digest_period, make_digest
from dmarcflow.models import RaisedAlert

ALERT_CSV = ("rule", "domain", "key", "severity", "message", "fix", "first_seen")


@main.command()
@click.argument("domains", nargs=-1)
@click.option("--since", default="7d", show_default=True, metavar="7d|DATE",
              help="First UTC day: N days (Nd) or weeks (Nw) back from today, or YYYY-MM-DD.")
@click.option("--until", metavar="DATE", help="Last UTC day included (YYYY-MM-DD; default today).")
@click.option("--to", "to", multiple=True, metavar="ADDRESS", help="Recipient (repeatable; default [digest] to).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.eml",
              help="Write the message to this file instead of sending it.")
@format_option()
@click.pass_obj
def digest(app: AppContext, domains: tuple[str, ...], since: str, until: str | None, to: tuple[str, ...],
           out: Path | None, fmt: str) -> None:
    """Mail a digest: every domain's overview against the previous period of the same length, new senders,
    failing senders that may be yours (with fixes), impostors and what receivers did, readiness.

    An empty period still sends a short digest that says so, unless [digest] send_empty = false.
    """
    try:
        first, last = parse_since(since), parse_until(until)
        assert first is not None  # --since has a default
        period = digest_period(first, last, datetime.now(UTC).date())
    except WindowError as exc:
        raise click.UsageError(str(exc)) from None
    delivery(app.settings, to, out)  # a configuration mistake is named before the store is opened
    with app.open_store_readonly() as store:
        result = make_digest(store, app.settings, period, domains, to=to, out=out)
    if fmt == "json":
        click.echo(to_json(result.as_dict()))
    elif fmt == "csv":
        row = result.as_dict()
        click.echo(to_csv(tuple(row), [[" ".join(v) if isinstance(v, list) else v for v in row.values()]]), nl=False)
    else:
        where = f"written to {result.out}" if result.out else ("sent to " + ", ".join(result.to) if result.sent
                                                                else "not sent: the period is empty (send_empty = false)")
        click.echo(f"{result.subject}: {where}")


@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would be raised or cleared; change and send nothing.")
@click.option("--at", "at", metavar="TIME", help="Evaluate as of this UTC time (YYYY-MM-DD[THH:MM]; default now).")
@format_option()
@click.pass_obj
def alerts(app: AppContext, dry_run: bool, at: str | None, fmt: str) -> None:
    """Evaluate the alert rules over the store, record what is new, deliver every pending alert.

    Each condition raises one alert, once; it is raised again only after it cleared. Deliveries that fail
    stay pending and are retried by the next run. Exit code 1 when a delivery failed.
    """
    now = _parse_at(at)
    with app.open_store(create=False) as store:
        run = run_configured(store, app.settings, now, dry_run=dry_run)
        deliveries = {a.id: store.alerts.deliveries(a.id) for a in run.raised}
    if fmt == "json":
        click.echo(to_json({"alerts": [_alert_json(a, deliveries.get(a.id, {})) for a in run.raised],
                            "cleared": [a.alert.key for a in run.cleared], "open": run.open,
                            "delivered": run.delivered, "pending": run.pending, "dry_run": run.dry_run}))
    elif fmt == "csv":
        click.echo(to_csv(ALERT_CSV, [[a.as_dict()[c] for c in ALERT_CSV] for a in run.raised]), nl=False)
    elif run.raised:
        click.echo(to_table(("severity", "rule", "domain", "message"),
                            [(a.alert.severity, a.alert.rule, a.alert.domain, a.alert.message) for a in run.raised]))
    click.echo(_tally(run), err=True)
    for failure in run.failures:
        click.echo(f"Error: {failure}", err=True)
    if run.failures:
        sys.exit(EXIT_FAILED)


def _parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)",
                                 param_hint="--at") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _alert_json(alert: RaisedAlert, deliveries: dict[str, str]) -> dict[str, object]:
    return {**alert.as_dict(), "deliveries": deliveries}


def _tally(run: AlertRun) -> str:
    verb = "would be " if run.dry_run else ""
    return (f"{len(run.raised)} alert(s) {verb}raised, {len(run.cleared)} {verb}cleared, {run.open} open; "
            f"{run.delivered} delivered, {run.pending} delivery(ies) pending")
