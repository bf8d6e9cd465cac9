"""`dmarcflow index setup|sync|status` (also as `dmarcflow es ...`): thin commands over dmarcflow.index."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

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
    data = asdict(result)
    families = data.pop("families")  # the JSON keeps its keys; the table names the other kinds' templates
    if fmt == "json":
        click.echo(to_json(data))
    else:
        click.echo(f"index template {result.index_template} ({', '.join(result.component_templates)}) "
                   f"installed for {result.index_pattern} on {client.url}")
        if families:
            click.echo(f"and the report kinds' index templates {', '.join(families)}")


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
    from dmarcflow.index.sync import sync_all

    settings, client = _settings(ctx), _connect(ctx)
    try:
        with _app(ctx).open_store(create=False) as store:
            if rebuild:
                deleted = retention.rebuild(client, store, settings)
                click.echo(f"deleted {len(deleted)} index(es); the checkpoints are reset", err=True)
            results = sync_all(client, store, settings, max_records)
            failed = any(r.error is not None for r in results)
            pruned = retention.prune(client, settings) if not failed else []
    finally:
        client.close()
    _print_sync(results, pruned, fmt)
    if failed or any(r.failures for r in results):
        raise click.exceptions.Exit(EXIT_FAILED)


def _sync_data(result: SyncResult) -> dict[str, Any]:
    return {
        "target": result.target, "sent": result.sent, "created": result.created, "existing": result.existing,
        "skipped": result.skipped, "refused": len(result.failures), "checkpoint": result.checkpoint,
        "pending": result.pending, "parked": result.parked, "error": result.error,
        "failures": [asdict(f) for f in result.failures[:20]],
    }


def _has_data(backlog_or_result: SyncResult | outbox.Backlog) -> bool:
    """A report kind is shown once the store holds some of it (no noise for kinds never received)."""
    if isinstance(backlog_or_result, SyncResult):
        r = backlog_or_result
        return bool(r.sent or r.pending or r.parked or r.checkpoint)
    return backlog_or_result.last_record_id > 0


def _print_sync(results: list[SyncResult], pruned: list[str], fmt: str) -> None:
    """The aggregate records' result as before; the other report kinds' (those stored) under ``kinds``."""
    results = results[:1] + [r for r in results[1:] if _has_data(r)]
    first, others = results[0], results[1:]
    data = {**_sync_data(first), "pruned": pruned}
    if others:
        data["kinds"] = {r.target.rpartition("#")[2]: _sync_data(r) for r in others}
    if fmt == "json":
        click.echo(to_json(data))
        return
    if fmt == "csv":
        columns = [k for k in _sync_data(first) if k != "failures"]
        click.echo(to_csv(columns, [[_sync_data(r)[k] for k in columns] for r in results]), nl=False)
        return
    for result in results:
        click.echo(f"{result.target}: {result.created} created, {result.existing} already indexed, "
                   f"{len(result.failures)} refused, {result.skipped} past retention; "
                   f"{result.pending} record(s) waiting, {result.parked} parked")
        for failure in result.failures[:20]:
            click.echo(f"  record {failure.record_id}: HTTP {failure.status} {failure.error}", err=True)
    if pruned:
        click.echo(f"deleted past retention: {', '.join(pruned)}")
    for result in results:
        if result.error:
            click.echo(f"Error: {result.error}", err=True)
            break


@click.command("status")
@click.option("--cluster", is_flag=True, help="Also ask the cluster: template installed, indices, documents.")
@format_option()
@click.pass_context
def index_status(ctx: click.Context, cluster: bool, fmt: str) -> None:
    """The backlog: records not yet acknowledged by the index, and parked refusals (from the store alone)."""
    from dmarcflow.index.feed import feeds

    settings = _settings(ctx)
    base = target_of(settings)
    with _app(ctx).open_store_readonly() as store:
        backlogs = [feed.backlog(store, feed.target(base)) for feed in feeds()]
        parked = outbox.failures(store, base, limit=20)
    view = None
    if cluster:
        from dmarcflow.index.status import cluster_view

        client = _connect(ctx)
        try:
            view = cluster_view(client, settings)
        finally:
            client.close()
    _print_status(backlogs, parked, view, fmt, "es" if _section(ctx) == "[elasticsearch]" else "index")


def _print_status(backlogs: list[outbox.Backlog], parked: list[outbox.Failure], view: ClusterView | None,
                  fmt: str, group: str) -> None:
    """The aggregate records' backlog as before; the other report kinds' (those stored) under ``kinds``."""
    backlogs = backlogs[:1] + [b for b in backlogs[1:] if _has_data(b)]
    backlog = backlogs[0]
    if fmt == "json":
        data: dict[str, Any] = {**asdict(backlog), "failures": [asdict(f) for f in parked]}
        if backlogs[1:]:
            data["kinds"] = {b.target.rpartition("#")[2]: asdict(b) for b in backlogs[1:]}
        if view is not None:
            cluster = asdict(view)
            if not any(names for names, _ in view.kinds.values()):
                del cluster["kinds"]
            data["cluster"] = cluster
        click.echo(to_json(data))
        return
    columns = ("target", "checkpoint", "last_record", "pending", "parked")
    rows = [(b.target, b.checkpoint, b.last_record_id, b.pending, b.failed) for b in backlogs]
    if fmt == "csv":
        click.echo(to_csv(columns, rows), nl=False)
        return
    click.echo(to_table(columns, rows, max_width=120))
    for failure in parked:
        click.echo(f"  record {failure.record_id}: HTTP {failure.status} after {failure.attempts} attempt(s): "
                   f"{failure.error}")
    if view is not None:
        for kind, (names, documents) in view.kinds.items():
            if names:
                click.echo(f"cluster: {kind} reports: {documents} searchable document(s) in {len(names)} index(es)")
        missing = f"MISSING (run `dmarcflow {group} setup`)"
        click.echo(f"cluster: template {'installed' if view.template_installed else missing}; "
                   f"{view.documents} searchable document(s) in {len(view.indices)} index(es)")


for _command in (index_setup, index_sync, index_status):
    index_group.add_command(_command)
    es.add_command(_command)
