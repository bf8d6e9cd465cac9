"""The root click group, shared options and error handling."""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field, replace
from typing import Any

import click

from dmarcflow import __version__
from dmarcflow.config import Settings, StoreSettings, load_settings
from dmarcflow.errors import ConfigError, DmarcflowError, StoreNotFoundError
from dmarcflow.store import DatabaseError, Store
from dmarcflow.store.connection import describe

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class AppContext:
    config_path: str | None
    db: str | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = load_settings(self.config_path)
            if self.db:
                settings = replace(settings, store=StoreSettings(path=self.db))
            self._settings = settings
        return self._settings

    def replace_settings(self, settings: Settings) -> None:
        self._settings = settings

    def open_store(self, *, create: bool = True) -> Store:
        """For the commands that write: ingest, fetch and watch create the store, the others need one."""
        return Store.open(self.settings.store.resolved_path(), create=create)

    def open_store_readonly(self) -> Store:
        """For the commands that only read: never creates a store, works without write permission."""
        return Store.open_readonly(self.settings.store.resolved_path())


# Command name -> the module that defines it. Modules load only when their command runs, so that
# `dmarcflow summary` does not pay for importing the IMAP, DNS and Elasticsearch clients.
COMMAND_MODULES = {
    "ingest": "dmarcflow.cli.ingest",
    "reports": "dmarcflow.cli.ingest",
    "rejected": "dmarcflow.cli.ingest",
    "reprocess": "dmarcflow.cli.ingest",
    "summary": "dmarcflow.cli.summary",
    "senders": "dmarcflow.cli.summary",
    "tls": "dmarcflow.cli.tls",
    "failures": "dmarcflow.cli.failures",
    "fetch": "dmarcflow.cli.mailbox",
    "watch": "dmarcflow.cli.mailbox",
    "check": "dmarcflow.cli.check",
    "index": "dmarcflow.cli.index",
    "es": "dmarcflow.cli.index",
    "kibana": "dmarcflow.cli.dashboards",
    "dashboards": "dmarcflow.cli.dashboards",
    "digest": "dmarcflow.cli.notify",
    "alerts": "dmarcflow.cli.notify",
    "serve": "dmarcflow.cli.web",
    "report": "dmarcflow.cli.web",
    "version": "dmarcflow.cli.about",
}


class _Group(click.Group):
    """Loads commands lazily; turns library errors into one clear line and the documented exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[name])  # its decorators register it on `main`
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"Error: configuration: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except StoreNotFoundError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except DmarcflowError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_FAILED)
        except DatabaseError as exc:  # a read that failed outside the store's own error handling
            click.echo(f"Error: the store at {_store_path(ctx)}: {describe(exc)}", err=True)
            ctx.exit(EXIT_FAILED)


def _store_path(ctx: click.Context) -> str:
    app = ctx.obj
    try:
        return str(app.settings.store.resolved_path()) if isinstance(app, AppContext) else "?"
    except ConfigError:
        return "?"


@click.group(cls=_Group, invoke_without_command=True, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", "show_version", is_flag=True,
              help="Print the version and exit (with --verbose: dependencies, IP database and its licence).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="DMARCFLOW_CONFIG",
              help="TOML config file (default: ~/.config/dmarcflow/dmarcflow.toml if it exists).")
@click.option("--db", type=click.Path(dir_okay=False), envvar="DMARCFLOW_DB",
              help="SQLite store (default: ~/.local/share/dmarcflow/dmarcflow.sqlite).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, db: str | None, verbose: int, show_version: bool) -> None:
    """Fetch, parse, store and summarise DMARC aggregate reports."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = AppContext(config_path=config_path, db=db)
    if show_version:
        if not verbose:  # the plain line needs no config and no imports
            click.echo(f"dmarcflow {__version__}")
        else:
            from dmarcflow.about import version_info
            from dmarcflow.cli.about import render

            info = version_info(ctx.obj.settings.enrichment)
            click.echo(render(info, verbose=True))
            if info.ip_database.error:  # printed above too, but a broken ip_db is a configuration error
                raise ConfigError(info.ip_database.error)
        ctx.exit(EXIT_OK)
    if ctx.invoked_subcommand is None:
        ctx.fail("Missing command.")
