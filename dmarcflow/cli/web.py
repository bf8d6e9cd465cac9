"""`dmarcflow serve` and `dmarcflow report --html`: thin commands over dmarcflow.web (loaded only here)."""

from __future__ import annotations

from pathlib import Path

import click

from dmarcflow.cli.app import AppContext, main
from dmarcflow.cli.window import read_window, window_options


@main.command()
@click.option("--host", help="Address to listen on (default [web] host, 127.0.0.1). Any other than loopback "
                             "needs [web] token_file or --insecure-no-auth.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default [web] port, 8080).")
@click.option("--insecure-no-auth", is_flag=True,
              help="Serve a non-loopback address without a token (only behind a proxy that authenticates).")
@click.pass_obj
def serve(app: AppContext, host: str | None, port: int | None, insecure_no_auth: bool) -> None:
    """Serve a read-only web UI over the store: overview, domains, sources, reports, rejected inputs, /api/."""
    from dmarcflow.web.server import serve as run

    web = app.settings.web
    run(app.settings.store.resolved_path(), app.settings.approved, host=host or web.host, port=port or web.port,
        token_file=web.token_file, insecure_no_auth=insecure_no_auth)


@main.command()
@click.argument("domains", nargs=-1)
@click.option("--html", "html_file", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this HTML file (one file: inline CSS and SVG, no scripts).")
@window_options
@click.pass_obj
def report(app: AppContext, domains: tuple[str, ...], html_file: str, since: str | None, until: str | None) -> None:
    """Write a self-contained HTML report: overview, and per domain trend, readiness, senders, impostors."""
    from dmarcflow.store.readonly import open_readonly
    from dmarcflow.web.report import html_report

    first, last = read_window(since, until)
    path = app.settings.store.resolved_path()
    store = open_readonly(path)
    try:
        text = html_report(store, domains, first, last, app.settings.approved, store_name=path.name)
    finally:
        store.close()
    Path(html_file).write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(text.encode()):,} bytes to {html_file}", err=True)
