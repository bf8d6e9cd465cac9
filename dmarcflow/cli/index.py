"""`dmarcflow index setup|sync|status` (also as `dmarcflow es ...`): thin commands over dmarcflow.index."""

from __future__ import annotations

from dataclasses import asdict

import click

from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.output import format_option, to_csv, to_json, to_table
from dmarcflow.config import IndexSettings
from dmarcflow.errors import ConfigError
from dmarcflow.index import outbox
from dmarcflow.index.client import SearchClient
from dmarcflow.index.status import ClusterView
from dmarcflow.index.sync import SyncResult, target_of


@main.group("index")
def index_group() -> None:
    """Index stored records into the search engine configured in [index] (Elasticsearch or OpenSearch)."""


@main.group("es")
def es() -> None:
    """The `index` commands under their former name (same options, output and JSON)."""


def _section(ctx: click.Context) -> str:
    """The settings section named in messages: the one each command name was documented with."""
    return "[elasticsearch]" if ctx.parent is not None and ctx.parent.info_name == "es" else "[index]"


def _app(ctx: click.Context) -> AppContext:
    app: AppContext = ctx.obj
    return app


def _settings(ctx: click.Context) -> IndexSettings:
    settings = _app(ctx).settings.index
    if not settings.url:
        raise ConfigError(f"{_section(ctx)} url is not set: indexing is off")
    return settings


def _connect(ctx: click.Context) -> SearchClient:
    from dmarcflow.index.engines import connect

    return connect(_settings(ctx), _section(ctx))


@click.command("setup")
@format_option()
@click.pass_context
def index_setup(ctx: click.Context, fmt: str) -> None:
    """Install the index templates (safe to run again: same content, same result)."""
    from dmarcflow.index.templates import setup

    settings, client = _settings(ctx), _connect(ctx)
    try:
        result = setup(client, settings)
    finally:
        client.close()
    if fmt == "json":
        click.echo(to_json(asdict(result)))
    else:
        click.echo(f"index template {result.index_template} ({', '.join(result.component_templates)}) "
                   f"installed for {result.index_pattern} on {client.url}")


@click.command("sync")
@click.option("--max-records", type=click.IntRange(min=1), help="Stop after this many records (default: all).")
@click.option("--rebuild", is_flag=True, help="Delete the indices and send everything again (after `reprocess`).")
@format_option()
@click.pass_context
def index_sync(ctx: click.Context, max_records: int | None, rebuild: bool, fmt: str) -> None:
    """One pass: send the records the index does not have yet, then apply the retention.

    Exit code 1 if the cluster could not be reached or refused documents (they are kept and
    retried on the next pass; `dmarcflow index status` lists them).
    """
    from dmarcflow.index import retention
    from dmarcflow.index.sync import Syncer

    settings, client = _settings(ctx), _connect(ctx)
    try:
        with _app(ctx).open_store(create=False) as store:
            if rebuild:
                deleted = retention.rebuild(client, store, settings)
                click.echo(f"deleted {len(deleted)} index(es); the checkpoint is reset", err=True)
            result = Syncer(client, store, settings).run_once(max_records)
            pruned = retention.prune(client, settings) if result.error is None else []
    finally:
        client.close()
    _print_sync(result, pruned, fmt)
    if result.error is not None or result.failures:
        raise click.exceptions.Exit(EXIT_FAILED)


def _print_sync(result: SyncResult, pruned: list[str], fmt: str) -> None:
    data = {
        "target": result.target, "sent": result.sent, "created": result.created, "existing": result.existing,
        "skipped": result.skipped, "refused": len(result.failures), "checkpoint": result.checkpoint,
        "pending": result.pending, "parked": result.parked, "pruned": pruned, "error": result.error,
        "failures": [asdict(f) for f in result.failures[:20]],
    }
    if fmt == "json":
        click.echo(to_json(data))
        return
    if fmt == "csv":
        columns = [k for k in data if k not in ("pruned", "failures")]
        click.echo(to_csv(columns, [[data[k] for k in columns]]), nl=False)
        return
    click.echo(f"{result.target}: {result.created} created, {result.existing} already indexed, "
               f"{len(result.failures)} refused, {result.skipped} past retention; "
               f"{result.pending} record(s) waiting, {result.parked} parked")
    for failure in result.failures[:20]:
        click.echo(f"  record {failure.record_id}: HTTP {failure.status} {failure.error}", err=True)
    if pruned:
        click.echo(f"deleted past retention: {', '.join(pruned)}")
    if result.error:
        click.echo(f"Error: {result.error}", err=True)


@click.command("status")
@click.option("--cluster", is_flag=True, help="Also ask the cluster: template installed, indices, documents.")
@format_option()
@click.pass_context
def index_status(ctx: click.Context, cluster: bool, fmt: str) -> None:
    """The backlog: records not yet acknowledged by the index, and parked refusals (from the store alone)."""
    settings = _settings(ctx)
    target = target_of(settings)
    with _app(ctx).open_store_readonly() as store:
        backlog = outbox.backlog(store, target)
        parked = outbox.failures(store, target, limit=20)
    view = None
    if cluster:
        from dmarcflow.index.status import cluster_view

        client = _connect(ctx)
        try:
            view = cluster_view(client, settings)
        finally:
            client.close()
    _print_status(backlog, parked, view, fmt, "es" if _section(ctx) == "[elasticsearch]" else "index")


def _print_status(backlog: outbox.Backlog, parked: list[outbox.Failure], view: ClusterView | None,
                  fmt: str, group: str) -> None:
    if fmt == "json":
        data = {**asdict(backlog), "failures": [asdict(f) for f in parked]}
        click.echo(to_json({**data, "cluster": asdict(view)} if view else data))
        return
    columns = ("target", "checkpoint", "last_record", "pending", "parked")
    rows = [(backlog.target, backlog.checkpoint, backlog.last_record_id, backlog.pending, backlog.failed)]
    if fmt == "csv":
        click.echo(to_csv(columns, rows), nl=False)
        return
    click.echo(to_table(columns, rows, max_width=120))
    for failure in parked:
        click.echo(f"  record {failure.record_id}: HTTP {failure.status} after {failure.attempts} attempt(s): "
                   f"{failure.error}")
    if view is not None:
        missing = f"MISSING (run `dmarcflow {group} setup`)"
        click.echo(f"cluster: template {'installed' if view.template_installed else missing}; "
                   f"{view.documents} searchable document(s) in {len(view.indices)} index(es)")


for _command in (index_setup, index_sync, index_status):
    index_group.add_command(_command)
    es.add_command(_command)
