"""`dmarcflow fetch` (one pass over the mailboxes) and `dmarcflow watch` (the daemon)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import click

from dmarcflow.cli.app import EXIT_FAILED, AppContext, main
from dmarcflow.cli.ingest import exit_code_for, open_ingestor, outcomes_even_on_store_failure, print_outcomes
from dmarcflow.cli.output import format_option
from dmarcflow.config import ENV_PREFIX, MailboxSettings, Settings, StoreSettings, load_settings
from dmarcflow.daemon import Daemon, load_checked
from dmarcflow.errors import ConfigError, MailboxError
from dmarcflow.fetch import run_pass
from dmarcflow.health import HealthServer, HealthState, parse_address
from dmarcflow.ingest import InputOutcome
from dmarcflow.ingest_tasks import MAX_JOBS, POOL_MIN_INPUTS
from dmarcflow.mailbox import Mailbox, check_settings
from dmarcflow.metrics import DaemonCollector, index_targets, registered, render
from dmarcflow.pass_lock import lock_path, pass_lock
from dmarcflow.systemd_notify import Notifier

# fetch option -> MailboxSettings field, for the one-off connection options
_CONNECTION_OPTIONS = ("host", "port", "user", "password_file", "tls", "ca_file", "folder", "archive_folder", "invalid_folder")


@main.command()
@click.option("--host", help="IMAP server; replaces the configured mailboxes with this one.")
@click.option("--port", type=int, help="Default: 993 for --tls implicit, else 143.")
@click.option("--user", help="Login name.")
@click.option("--password-file", type=click.Path(dir_okay=False), help="File holding the password "
              f"(else ${ENV_PREFIX}MAILBOX_PASSWORD or ${ENV_PREFIX}MAILBOX_PASSWORD_FILE).")
@click.option("--tls", type=click.Choice(["implicit", "starttls", "none"]), help="none: loopback hosts only.")
@click.option("--ca-file", type=click.Path(dir_okay=False, exists=True), help="CA bundle that signed the server certificate.")
@click.option("--folder", help="Folder holding the report mails (default INBOX).")
@click.option("--archive-folder", help="Where processed mails go (default Archive).")
@click.option("--invalid-folder", help="Where mails without a usable report go (default Invalid).")
@click.option("--mailbox", "names", multiple=True, help="Only the configured mailbox with this name (repeatable).")
@click.option("--offline", is_flag=True, help="No reverse DNS lookups.")
@click.option("--jobs", type=click.IntRange(1, MAX_JOBS), default=None, metavar="N",
              help=f"Worker processes that parse the mails in parallel, 1-{MAX_JOBS} (default: the number of "
                   f"cores for a backlog of {POOL_MIN_INPUTS} mails or more, else 1); this process stores them "
                   "and files them away. 1: everything in this process.")
@format_option()
@click.pass_obj
def fetch(app: AppContext, /, names: tuple[str, ...], offline: bool, jobs: int | None, fmt: str,
          **options: Any) -> None:
    """Fetch reports from every configured mailbox once, file the mails away, and exit.

    Exit code 1 when a mailbox could not be read or any mail was rejected; 2 for a configuration error.
    """
    logging.getLogger("imapclient").setLevel(logging.WARNING)  # its debug trace would show credentials
    boxes = select_mailboxes(app.settings, names, options)
    outcomes: list[InputOutcome] = []
    failures: list[str] = []
    with open_ingestor(app, offline) as ingestor, outcomes_even_on_store_failure(outcomes, fmt), \
            _stop_on_signals() as stopping:
        for box in boxes:
            if stopping():
                break
            try:
                with pass_lock(lock_path(app.settings.store.resolved_path(), box), wait=True), \
                        Mailbox.connect(box) as mailbox:
                    run_pass(mailbox, ingestor, stopping, on_filed=lambda item: outcomes.append(item.outcome), jobs=jobs)
            except MailboxError as exc:
                failures.append(str(exc))
    print_outcomes(outcomes, fmt)
    for failure in failures:
        click.echo(f"Error: {failure}", err=True)
    sys.exit(EXIT_FAILED if failures else exit_code_for(outcomes))


def select_mailboxes(settings: Settings, names: tuple[str, ...], options: dict[str, Any]) -> list[MailboxSettings]:
    """The configured mailboxes (or one built from --host), with the command-line options applied."""
    given = {key: value for key, value in options.items() if key in _CONNECTION_OPTIONS and value is not None}
    if "host" in given:
        boxes = [_mailbox_from_environment()]
    else:
        boxes = [box for box in settings.mailboxes if not names or box.name in names]
        missing = set(names) - {box.name for box in settings.mailboxes}
        if missing:
            raise ConfigError(f"no configured mailbox named {', '.join(sorted(missing))}")
    if not boxes:
        raise ConfigError("no mailbox configured: add a [[mailboxes]] table to the config file, or give --host and --user")
    if "password_file" in given:
        boxes = [replace(box, password="", oauth2_token="", oauth2_token_file="", oauth2_token_command="") for box in boxes]
    boxes = [replace(box, **given) for box in boxes]
    for box in boxes:
        check_settings(box)
    return boxes


def _mailbox_from_environment() -> MailboxSettings:
    """A fresh mailbox for --host; only the secret may come from the environment."""
    env = os.environ
    key = f"{ENV_PREFIX}MAILBOX_PASSWORD"
    return MailboxSettings(name="cli", password=env.get(key, ""), password_file=env.get(key + "_FILE", ""))


@contextmanager
def _stop_on_signals() -> Iterator[Callable[[], bool]]:
    """SIGTERM/SIGINT end the pass after the message in hand instead of killing it mid-way."""
    requested: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: requested.append(signum)) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield lambda: bool(requested)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@main.command()
@click.option("--http", "http_address", metavar="HOST:PORT", help="Serve /healthz and /metrics here, e.g. 127.0.0.1:9108.")
@click.option("--log-format", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="Log lines on stderr: human-readable or one JSON object per line.")
@click.option("--health-max-age", type=float, metavar="SECONDS",
              help="/healthz fails when a mailbox's last successful poll is older (default: 2 x poll_interval + 60).")
@click.option("--offline", is_flag=True, help="No reverse DNS lookups.")
@click.pass_obj
def watch(app: AppContext, http_address: str | None, log_format: str, health_max_age: float | None, offline: bool) -> None:
    """Watch every configured mailbox: store reports as they arrive and file the mails away.

    IDLE where the server supports it, else polling; reconnects forever with backoff.
    SIGTERM/SIGINT: finish the message in hand and exit 0. SIGHUP: reload the configuration.
    """
    configure_logging(log_format)
    load = _loader(app, offline)
    settings = load_checked(load)  # a broken configuration fails here, before anything starts
    state = HealthState(settings.store.resolved_path(), health_max_age)
    collector = DaemonCollector(state, state.store_path, lambda: index_targets(settings))
    server = _start_http(state, http_address)
    try:
        with registered(collector):
            code = Daemon(load, state, notifier=Notifier.from_environment()).run()
    finally:
        if server is not None:
            server.close()
    sys.exit(code)


def _loader(app: AppContext, offline: bool) -> Callable[[], Settings]:
    """Settings read afresh at every call (SIGHUP), with the command-line overrides applied again."""

    def load() -> Settings:
        settings = load_settings(app.config_path)
        if app.db:
            settings = replace(settings, store=StoreSettings(path=app.db))
        if offline:
            settings = replace(settings, enrichment=replace(settings.enrichment, offline=True))
        return settings

    return load


def _start_http(state: HealthState, address: str | None) -> HealthServer | None:
    if not address:
        return None
    try:
        host, port = parse_address(address)
        server = HealthServer(state, host, port, metrics=render)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--http") from None
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on {address}: {exc.strerror}", param_hint="--http") from None
    logging.getLogger("dmarcflow.health").info("serving /healthz and /metrics on http://%s:%d", *server.address)
    return server


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: str) -> None:
    """stderr, INFO at least (a daemon should say what it does), human or JSON lines."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))
    # imapclient's debug log is a protocol trace, and an AUTHENTICATE line carries the token.
    logging.getLogger("imapclient").setLevel(logging.WARNING)
