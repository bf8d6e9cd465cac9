"""`dmarcflow version` (and the root `--version --verbose`): versions, the IP database and its licence."""

from __future__ import annotations

import click

from dmarcflow.about import VersionInfo, version_info
from dmarcflow.cli.app import AppContext, main
from dmarcflow.cli.output import to_json
from dmarcflow.errors import ConfigError


def render(info: VersionInfo, verbose: bool, fmt: str = "table") -> str:
    if fmt == "json":
        return to_json(info.as_dict())
    if not verbose:
        return f"dmarcflow {info.version}"
    db = info.ip_database
    lines = [f"dmarcflow {info.version}", f"python {info.python}", "dependencies:"]
    lines += [f"  {name} {version}" for name, version in info.dependencies.items()]
    lines.append(f"IP database: {db.path}{' (bundled)' if db.bundled else ''}")
    if db.error:
        lines.append(f"  error: {db.error}")
    else:
        lines += [f"  type: {db.database_type}, built {db.build_date}", f"  provider: {db.provider}",
                  f"  licence: {db.licence}"]
        if db.attribution:
            lines.append(f"  attribution: {db.attribution}")
    return "\n".join(lines)


@main.command("version")
@click.option("--verbose", is_flag=True, help="Also the key dependencies and the IP database with its licence.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: lines for people; json: every detail, for programs.")
@click.pass_obj
def version(app: AppContext, verbose: bool, fmt: str) -> None:
    """Print the version (with --verbose: dependencies, IP database, licence attribution).

    Exit code 2 when the configured IP database cannot be opened (the rest is printed all the same).
    """
    info = version_info(app.settings.enrichment)
    click.echo(render(info, verbose, fmt))
    if info.ip_database.error:
        raise ConfigError(info.ip_database.error)
