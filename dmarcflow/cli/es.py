"""`dmarcflow es setup|sync|status` and `dmarcflow kibana import|export`: thin commands over dmarcflow.index."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.output import format_option, to_csv, to_json, to_table
from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import ConfigError
from dmarcflow.index import elastic, kibana, outbox
from dmarcflow.index.urls import redact


def _es_settings(app: AppContext) -> ElasticsearchSettings:
    return app.settings.elasticsearch


@main.group()
def es() -> None:
    """Index stored records into Elasticsearch (configured in [elasticsearch])."""


@es.command("setup")
@format_option()
@click.pass_obj
def es_setup(app: AppContext, fmt: str) -> None:
    """Install the index templates (safe to run again: same content, same result)."""
    settings = _es_settings(app)
    with elastic.make_client(settings) as client:
        result = elastic.setup(client, settings)
    if fmt == "json":
        click.echo(to_json(asdict(result)))
    else:
        click.echo(f"index template {result.index_template} ({', '.join(result.component_templates)}) "
                   f"installed for {result.index_pattern} on {redact(settings.url)}")


@es.command("sync")
@click.option("--max-records", type=click.IntRange(min=1), help="Stop after this many records (default: all).")
@click.option("--rebuild", is_flag=True, help="Delete the indices and send everything again (after `reprocess`).")
@format_option()
@click.pass_obj
def es_sync(app: AppContext, max_records: int | None, rebuild: bool, fmt: str) -> None:
    """One pass: send the records the index does not have yet, then apply the retention.

    Exit code 1 if the cluster could not be reached or refused documents (they are kept and
    retried on the next pass; `dmarcflow es status` lists them).
    """
    settings = _es_settings(app)
    with elastic.make_client(settings) as client, app.open_store(create=False) as store:
        if rebuild:
            deleted = elastic.rebuild(client, store, settings)
            click.echo(f"deleted {len(deleted)} index(es); the checkpoint is reset", err=True)
        result = elastic.Syncer(client, store, settings).run_once(max_records)
        pruned = elastic.prune(client, settings) if result.error is None else []
    _print_sync(result, pruned, fmt)
    if result.error is not None or result.failures:
        raise click.exceptions.Exit(EXIT_FAILED)


def _print_sync(result: elastic.SyncResult, pruned: list[str], fmt: str) -> None:
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


@es.command("status")
@click.option("--cluster", is_flag=True, help="Also ask the cluster: template installed, indices, documents.")
@format_option()
@click.pass_obj
def es_status(app: AppContext, cluster: bool, fmt: str) -> None:
    """The backlog: records not yet acknowledged by the index, and parked refusals (from the store alone)."""
    settings = _es_settings(app)
    if not settings.url:
        raise ConfigError("[elasticsearch] url is not set: indexing is off")
    target = elastic.target_of(settings)
    with app.open_store_readonly() as store:
        backlog = outbox.backlog(store, target)
        parked = outbox.failures(store, target, limit=20)
    view = None
    if cluster:
        with elastic.make_client(settings) as client:
            view = elastic.cluster_view(client, settings)
    _print_status(backlog, parked, view, fmt)


def _print_status(backlog: outbox.Backlog, parked: list[outbox.Failure], view: elastic.ClusterView | None,
                  fmt: str) -> None:
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
        click.echo(f"cluster: template {'installed' if view.template_installed else 'MISSING (run `dmarcflow es setup`)'}; "
                   f"{view.documents} searchable document(s) in {len(view.indices)} index(es)")


# ----------------------------------------------------------------------------- kibana


@main.group("kibana")
def kibana_group() -> None:
    """Kibana saved objects (data view and dashboard) shipped with dmarcflow."""


def _objects_options(f):
    f = click.option("--index-prefix", help="Index prefix the data view covers (default: [elasticsearch] index_prefix).")(f)
    return click.option("--objects", "objects_path", type=click.Path(exists=True, dir_okay=False),
                        help="An NDJSON file of saved objects instead of the bundled ones.")(f)


def _kibana_url(value: str) -> str:
    problem = kibana.url_problem(value)
    if problem is not None:
        raise click.BadParameter(f"{value!r}: {problem}")
    return value


def _load(app: AppContext, objects_path: str | None, index_prefix: str | None) -> list[dict]:
    prefix = index_prefix or _es_settings(app).index_prefix
    source = Path(objects_path) if objects_path else kibana.bundled_path()
    return kibana.adapt(kibana.load(source), prefix)


@kibana_group.command("import")
@click.option("--url", required=True, envvar="DMARCFLOW_KIBANA_URL", callback=lambda ctx, param, value: _kibana_url(value),
              help="Kibana base URL, e.g. http://localhost:5601.")
@click.option("--username", envvar="DMARCFLOW_KIBANA_USERNAME", help="Basic auth user.")
@click.option("--password", envvar="DMARCFLOW_KIBANA_PASSWORD", help="Basic auth password (better: the environment).")
@click.option("--api-key", envvar="DMARCFLOW_KIBANA_API_KEY", help="An API key (base64 id:key), instead of a user.")
@click.option("--space", default="", help="Kibana space id (default: the default space).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA bundle for an https Kibana.")
@click.option("--insecure", is_flag=True, help="Do not verify the TLS certificate.")
@_objects_options
@click.pass_obj
def kibana_import(app: AppContext, url: str, username: str | None, password: str | None, api_key: str | None,
                  space: str, ca_file: str | None, insecure: bool, objects_path: str | None,
                  index_prefix: str | None) -> None:
    """Post the saved objects to Kibana's import API (existing ones with the same ids are replaced)."""
    objects = _load(app, objects_path, index_prefix)
    auth = kibana.KibanaAuth(username or "", password or "", api_key or "")
    result = kibana.import_objects(kibana.KibanaTarget(url, auth, space, ca_file or "", not insecure), objects)
    click.echo(f"imported {result.imported} saved object(s) into {kibana.safe_url(url)}")


@kibana_group.command("export")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="File to write the NDJSON to ('-': standard output).")
@_objects_options
@click.pass_obj
def kibana_export(app: AppContext, out_path: str, objects_path: str | None, index_prefix: str | None) -> None:
    """Write the saved objects (adapted to the index prefix) as NDJSON, for Kibana's import screen."""
    text = kibana.dumps(_load(app, objects_path, index_prefix))
    if out_path == "-":
        click.echo(text, nl=False)
    else:
        target = Path(out_path)
        if not target.parent.is_dir():
            raise click.BadParameter(f"the folder {target.parent} does not exist: create it or choose another file",
                                     param_hint="--out")
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
        click.echo(f"wrote {text.count(chr(10))} saved object(s) to {out_path}", err=True)
