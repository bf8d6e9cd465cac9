"""The --since/--until options every command that reads a period shares.

Apart from cli/summary.py so that the commands that only store (``ingest``) do not import the analysis
package with them; the window is read by ``dmarcflow.analysis.window`` when a command runs.
"""

from __future__ import annotations

from datetime import date

import click

from dmarcflow.cli.output import FC


def window_options(f: FC) -> FC:
    f = click.option("--until", metavar="DATE", help="Last UTC day included (YYYY-MM-DD).")(f)
    return click.option("--since", metavar="30d|DATE",
                        help="First UTC day: N days (Nd) or weeks (Nw) back from today, or YYYY-MM-DD.")(f)


def read_window(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    from dmarcflow.analysis.window import WindowError, check_order, parse_since, parse_until

    try:
        first, last = parse_since(since), parse_until(until)
        check_order(first, last)
    except WindowError as exc:
        raise click.UsageError(str(exc)) from None
    return first, last
