"""`dmarcflow kibana import|export` and `dmarcflow dashboards import|export` (OpenSearch Dashboards)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dmarcflow.cli.app import AppContext, main
from dmarcflow.index import kibana

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@main.group("kibana")
def kibana_group() -> None:
    """Kibana saved objects (data view and dashboard) bundled with dmarcflow."""


@main.group("dashboards")
def dashboards_group() -> None:
    """OpenSearch Dashboards saved objects (index pattern and dashboard) bundled with dmarcflow."""


def _objects_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--index-prefix", help="Index prefix the data view covers (default: [index] index_prefix).")(f)
    return click.option("--objects", "objects_path", type=click.Path(exists=True, dir_okay=False),
                        help="An NDJSON file of saved objects instead of the bundled ones.")(f)


def _load(app: AppContext, product: kibana.Product, objects_path: str | None,
          index_prefix: str | None) -> list[dict[str, Any]]:
    prefix = index_prefix or app.settings.index.index_prefix
    source = Path(objects_path) if objects_path else kibana.bundled_path(product)
    return kibana.adapt(kibana.load(source), prefix)


def _checked_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = kibana.url_problem(value)
    if problem is not None:
        raise click.BadParameter(f"{value!r}: {problem}")
    return value


def _connection_options(env: str, name: str) -> Decorator:
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed((
            click.option("--url", required=True, envvar=f"{env}_URL", callback=_checked_url,
                         help=f"{name} base URL, e.g. http://localhost:5601."),
            click.option("--username", envvar=f"{env}_USERNAME", help="Basic auth user."),
            click.option("--password", envvar=f"{env}_PASSWORD", help="Basic auth password (better: the environment)."),
            click.option("--ca-file", type=click.Path(exists=True, dir_okay=False),
                         help=f"CA bundle for an https {name}."),
            click.option("--insecure", is_flag=True, help="Do not verify the TLS certificate."),
        )):
            f = option(f)
        return f
    return decorate


@kibana_group.command("import")
@_connection_options("DMARCFLOW_KIBANA", "Kibana")
@click.option("--api-key", envvar="DMARCFLOW_KIBANA_API_KEY", help="An API key (base64 id:key), instead of a user.")
@click.option("--space", default="", help="Kibana space id (default: the default space).")
@_objects_options
@click.pass_obj
def kibana_import(app: AppContext, url: str, username: str | None, password: str | None, ca_file: str | None,
                  insecure: bool, api_key: str | None, space: str, objects_path: str | None,
                  index_prefix: str | None) -> None:
    """Post the saved objects to Kibana's import API (existing ones with the same ids are replaced)."""
    objects = _load(app, kibana.KIBANA, objects_path, index_prefix)
    auth = kibana.KibanaAuth(username or "", password or "", api_key or "")
    result = kibana.import_objects(kibana.KibanaTarget(url, auth, space, ca_file or "", not insecure), objects)
    click.echo(f"imported {result.imported} saved object(s) into {kibana.safe_url(url)}")


@dashboards_group.command("import")
@_connection_options("DMARCFLOW_DASHBOARDS", "OpenSearch Dashboards")
@click.option("--tenant", default="", help="Security-plugin tenant, e.g. global (default: the user's current one).")
@_objects_options
@click.pass_obj
def dashboards_import(app: AppContext, url: str, username: str | None, password: str | None, ca_file: str | None,
                      insecure: bool, tenant: str, objects_path: str | None, index_prefix: str | None) -> None:
    """Post the saved objects to OpenSearch Dashboards' import API (same ids are replaced)."""
    objects = _load(app, kibana.DASHBOARDS, objects_path, index_prefix)
    auth = kibana.KibanaAuth(username or "", password or "")
    target = kibana.KibanaTarget(url, auth, "", ca_file or "", not insecure, product=kibana.DASHBOARDS, tenant=tenant)
    result = kibana.import_objects(target, objects)
    click.echo(f"imported {result.imported} saved object(s) into {kibana.safe_url(url)}")


def _export(app: AppContext, product: kibana.Product, out_path: str, objects_path: str | None,
            index_prefix: str | None) -> None:
    text = kibana.dumps(_load(app, product, objects_path, index_prefix))
    if out_path == "-":
        click.echo(text, nl=False)
        return
    target = Path(out_path)
    if not target.parent.is_dir():
        raise click.BadParameter(f"the folder {target.parent} does not exist: create it or choose another file",
                                 param_hint="--out")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    click.echo(f"wrote {text.count(chr(10))} saved object(s) to {out_path}", err=True)


_out_option = click.option("--out", "out_path", type=click.Path(dir_okay=False, allow_dash=True), default="-",
                           show_default=True, help="File to write the NDJSON to ('-': standard output).")


@kibana_group.command("export")
@_out_option
@_objects_options
@click.pass_obj
def kibana_export(app: AppContext, out_path: str, objects_path: str | None, index_prefix: str | None) -> None:
    """Write the saved objects (adapted to the index prefix) as NDJSON, for Kibana's import screen."""
    _export(app, kibana.KIBANA, out_path, objects_path, index_prefix)


@dashboards_group.command("export")
@_out_option
@_objects_options
@click.pass_obj
def dashboards_export(app: AppContext, out_path: str, objects_path: str | None, index_prefix: str | None) -> None:
    """Write the saved objects as NDJSON, for OpenSearch Dashboards' import screen."""
    _export(app, kibana.DASHBOARDS, out_path, objects_path, index_prefix)
