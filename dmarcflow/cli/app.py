"""The root click group, shared options and error handling."""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import click

from dmarcflow import __version__
from dmarcflow.errors import ConfigError, DmarcflowError, StoreNotFoundError

if TYPE_CHECKING:  # imported where used: `dmarcflow --help` reads neither the config nor the store
    from dmarcflow.config import Settings
    from dmarcflow.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class AppContext:
    config_path: str | None
    db: str | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from dmarcflow.config import StoreSettings, load_settings

            settings = load_settings(self.config_path)
            if self.db:
                settings = replace(settings, store=StoreSettings(path=self.db))
            self._settings = settings
        return self._settings

    def replace_settings(self, settings: Settings) -> None:
        self._settings = settings

    def open_store(self, *, create: bool = True) -> Store:
        """For the commands that write: ingest, fetch and watch create the store, the others need one."""
        from dmarcflow.store import Store

        return Store.open(self.settings.store.resolved_path(), create=create)

    def open_store_readonly(self) -> Store:
        """For the commands that only read: never creates a store, works without write permission."""
        from dmarcflow.store import Store

        return Store.open_readonly(self.settings.store.resolved_path())


# Command name -> the module that defines it and its short help. Modules load only when their command runs,
# so that `dmarcflow summary` does not pay for importing the IMAP, DNS and Elasticsearch clients, and
# `dmarcflow --help` lists the commands from this table without importing any of them (a test checks that
# every entry is the command's own short help).
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("dmarcflow.cli.ingest", "Store every DMARC aggregate report found in PATHS."),
    "reports": ("dmarcflow.cli.ingest", ("List stored reports of every kind, oldest first (--since/--until select by"
                                         " the UTC day a report begins).")),
    "rejected": ("dmarcflow.cli.ingest", ("List rejected inputs with their reasons (their raw bytes are kept; the "
                                          "same bytes again count as seen again).")),
    "reprocess": ("dmarcflow.cli.ingest", ("Re-parse every stored report (every kind) from what was kept (after an "
                                           "upgrade).")),
    "summary": ("dmarcflow.cli.summary", ("Per policy domain: volumes, alignment, dispositions, sources, what to "
                                          "fix, impostors, readiness.")),
    "senders": ("dmarcflow.cli.summary", ("Every source that sent mail as DOMAIN, with its class, the reason for it,"
                                          " its fix and, when it is not listed, the config line that approves it.")),
    "tls": ("dmarcflow.cli.tls", "SMTP TLS reports (RFC 8460): whether senders could reach your MX hosts over TLS."),
    "failures": ("dmarcflow.cli.failures", "DMARC failure reports (ruf), newest first, grouped by source IP."),
    "fetch": ("dmarcflow.cli.mailbox", ("Fetch reports from every configured mailbox once, file the mails away, and "
                                        "exit.")),
    "watch": ("dmarcflow.cli.mailbox", ("Watch every configured mailbox: store reports as they arrive and file the "
                                        "mails away.")),
    "check": ("dmarcflow.cli.check", "DNS posture of each DOMAIN: DMARC, SPF, DKIM keys, MTA-STS, TLS-RPT, BIMI."),
    "index": ("dmarcflow.cli.index", ("Index stored records into the search engine configured in [index] "
                                      "(Elasticsearch or OpenSearch).")),
    "es": ("dmarcflow.cli.index", "The `index` commands under their former name (same options, output and JSON)."),
    "kibana": ("dmarcflow.cli.dashboards", "Kibana saved objects (data view and dashboard) bundled with dmarcflow."),
    "dashboards": ("dmarcflow.cli.dashboards", ("OpenSearch Dashboards saved objects (index pattern and dashboard) "
                                                "bundled with dmarcflow.")),
    "digest": ("dmarcflow.cli.notify", ("Mail a digest: every domain's overview against the previous period of the "
                                        "same length, new senders, failing senders that may be yours (with fixes), "
                                        "impostors and what receivers did, readiness.")),
    "alerts": ("dmarcflow.cli.notify", ("Evaluate the alert rules over the store, record what is new, deliver every "
                                        "pending alert.")),
    "serve": ("dmarcflow.cli.web", ("Serve a read-only web UI over the store: overview, domains, sources, reports, "
                                    "rejected inputs, /api/.")),
    "report": ("dmarcflow.cli.web", ("Write a self-contained HTML report: overview, and per domain trend, readiness,"
                                     " senders, impostors.")),
    "version": ("dmarcflow.cli.about", ("Print the version (with --verbose: dependencies, IP database, licence "
                                        "attribution).")),
}
COMMAND_MODULES = {name: module for name, (module, _) in COMMANDS.items()}


class _Group(click.Group):
    """Loads commands lazily; turns library errors into one clear line and the documented exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[name])  # its decorators register it on `main`
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list as click writes it, with the short help of unloaded commands from ``COMMANDS``."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            command = self.commands.get(name)
            if command is None and name in COMMANDS:
                # a stand-in with the command's help: click shortens it exactly as for the real command
                rows.append((name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)))
                continue
            command = command or self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
        except Exception as exc:
            # The store's error type is imported only when something failed: `--help` does not load the store.
            from dmarcflow.store.connection import DatabaseError, describe

            if not isinstance(exc, DatabaseError):
                raise
            # a read that failed outside the store's own error handling
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
