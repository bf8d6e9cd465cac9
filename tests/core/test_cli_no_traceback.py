"""No user error ends in a traceback: every command and subcommand, found by walking the click group, is run
with bad arguments, a missing, broken, read-only or folder store, and broken configurations.

Each run must end with its documented exit code (1 failure, 2 usage or configuration) and exactly one
`Error:` line. Everything runs in-process (CliRunner) on real files; the search engine, Kibana and IMAP
addresses are closed loopback ports, so nothing waits on a network.
"""

from __future__ import annotations

import logging
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from dmarcflow.cli import main
from tests.conftest import SAMPLES
from tests.support.filesystems import remount, tmpfs
from tests.support.report_xml import report

CLOSED = "http://127.0.0.1:9"  # nothing listens on the discard port
# `check` asks the DNS: a closed loopback port, so every lookup fails at once (dns_unreachable: exit 1).
SAMPLE = next(p for p in sorted(SAMPLES.iterdir()) if p.suffix == ".xml")
BASE_ENV = {"DMARCFLOW_ELASTICSEARCH_URL": CLOSED, "DMARCFLOW_ELASTICSEARCH_MAX_RETRIES": "0",
            "DMARCFLOW_ELASTICSEARCH_TIMEOUT": "2", "DMARCFLOW_DNS_NAMESERVERS": "127.0.0.1:9", "DMARCFLOW_DNS_TIMEOUT": "1"}
MAILBOX_ENV = {"DMARCFLOW_MAILBOX_HOST": "127.0.0.1", "DMARCFLOW_MAILBOX_PORT": "9", "DMARCFLOW_MAILBOX_TLS": "none",
               "DMARCFLOW_MAILBOX_USER": "u", "DMARCFLOW_MAILBOX_PASSWORD": "p", "DMARCFLOW_MAILBOX_TIMEOUT": "2"}


def leaf_commands() -> list[tuple[str, ...]]:
    """Every runnable command path, by walking the (lazily loaded) click group."""
    found: list[tuple[str, ...]] = []

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if isinstance(command, click.Group):
                walk(command, prefix + (name,))
            else:
                found.append(prefix + (name,))

    walk(main, ())
    return found


COMMANDS = leaf_commands()


def command_of(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def test_the_walk_finds_every_command():
    # A new command belongs here, and in base_args/GOOD when it needs arguments or runs until stopped
    # (a command that does not return is stopped by the 60 s alarm and fails these tests).
    assert COMMANDS == [("alerts",), ("check",), ("dashboards", "export"), ("dashboards", "import"), ("digest",),
                        ("es", "setup"), ("es", "status"), ("es", "sync"), ("failures",), ("fetch",), ("index", "setup"),
                        ("index", "status"), ("index", "sync"), ("ingest",), ("kibana", "export"), ("kibana", "import"),
                        ("rejected",), ("report",), ("reports",), ("reprocess",), ("senders",), ("serve",),
                        ("summary",), ("tls", "summary"), ("version",), ("watch",)]


def base_args(path: tuple[str, ...], tmp: Path) -> list[str]:
    """The least each command needs to run at all."""
    new = tmp / "new-report.xml"
    if not new.exists():
        new.write_bytes(report(report_id="walk-new"))
    return {
        ("ingest",): ["--offline", str(new)],
        ("senders",): ["example.com"],
        ("check",): ["example.com"],
        ("kibana", "import"): ["--url", CLOSED],
        ("kibana", "export"): ["--out", str(tmp / "objects.ndjson")],
        ("dashboards", "import"): ["--url", CLOSED],
        ("dashboards", "export"): ["--out", str(tmp / "dashboards.ndjson")],
        ("digest",): ["--out", str(tmp / "digest.eml")],
        ("report",): ["--html", str(tmp / "report.html")],
        # serve runs until stopped: on a network address without a token it stops at once (exit 2),
        # after the store was checked
        ("serve",): ["--host", "0.0.0.0"],
    }.get(path, [])


class Runner:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runner = CliRunner()
        self.monkeypatch = monkeypatch

    def __call__(self, *args: object, env: dict[str, str] | None = None) -> Result:
        handlers, level = list(logging.root.handlers), logging.root.level  # `watch` installs its own handler
        previous = signal.signal(signal.SIGALRM, _too_slow)
        signal.alarm(60)
        try:
            return self.runner.invoke(main, [str(a) for a in args], env={**BASE_ENV, **(env or {})},
                                      catch_exceptions=True)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
            logging.root.handlers[:] = handlers
            logging.root.setLevel(level)


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError("the command did not finish within 60 s")


@pytest.fixture
def run(monkeypatch) -> Runner:
    return Runner(monkeypatch)


def assert_clean(result: Result, expected: int, what: object, daemon: bool = False) -> None:
    """The documented exit code; on failure exactly one `Error:` line (the daemon: one ERROR log line); never a traceback."""
    shown = f"{what}: exit {result.exit_code}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        shown += "".join(traceback.format_exception(result.exception))
        pytest.fail(f"traceback from {shown}")
    assert "Traceback" not in result.output, shown
    assert result.exit_code == expected, shown
    errors = [line for line in result.stderr.splitlines()
              if (" ERROR " in line if daemon else line.startswith("Error:"))]
    assert len(errors) == (0 if expected == 0 else 1), shown


@pytest.fixture(scope="module")
def _samples_store(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("walk")
    db = home / "samples.sqlite"
    isolated = {"HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home), "DMARCFLOW_CONFIG": None}
    result = CliRunner().invoke(main, ["--db", str(db), "ingest", "--offline", str(SAMPLES)], env=isolated)
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def good_store(_samples_store, tmp_path) -> Path:
    """A store holding the samples (a copy per test: some commands write)."""
    db = tmp_path / "good.sqlite"
    shutil.copyfile(_samples_store, db)
    return db


# What each command answers when everything is in order (the other scenarios start from here).
GOOD = {("es", "setup"): 1, ("es", "sync"): 1, ("fetch",): 2, ("watch",): 2, ("kibana", "import"): 1, ("serve",): 2,
        ("check",): 1, ("index", "setup"): 1, ("index", "sync"): 1, ("dashboards", "import"): 1}


def test_every_command_on_a_good_store(run, good_store, tmp_path):
    for path in COMMANDS:
        assert_clean(run("--db", good_store, *path, *base_args(path, tmp_path)), GOOD.get(path, 0), path)


def test_an_unknown_option_is_a_usage_error_everywhere(run, good_store, tmp_path):
    for path in COMMANDS:
        assert_clean(run("--db", good_store, *path, "--no-such-option"), 2, path)
        assert_clean(run("--db", good_store, *path, "--help"), 0, path)


def bad_values(param: click.Parameter, tmp: Path) -> Iterator[str]:
    """Values this parameter's type refuses, plus known-bad text for free-text options."""
    kind = param.type
    if isinstance(kind, (click.IntRange, click.FloatRange)) and kind.min is not None:
        yield str(kind.min - 1)
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        yield "not-a-number"
    if isinstance(kind, click.Choice):
        yield "no-such-choice"
    if isinstance(kind, click.Path):
        if kind.exists:
            yield str(tmp / "missing" / "file")
        if not kind.dir_okay:
            yield str(tmp)
    yield from {"since": ["yesterday-ish", "2026-02-30"], "until": ["2026-13-01"], "http_address": ["nonsense"],
                "url": ["not a url"]}.get(param.name or "", [])


def test_every_option_with_a_bad_value_is_a_usage_error(run, good_store, tmp_path):
    tried = 0
    for path in COMMANDS:
        for param in command_of(path).params:
            for value in bad_values(param, tmp_path):
                if isinstance(param, click.Argument):
                    args = [value]
                else:
                    args = [param.opts[0], value]
                # The options' own parser checks them first; a bad --http needs a mailbox to be reached.
                env = MAILBOX_ENV if param.name == "http_address" else None
                assert_clean(run("--db", good_store, *path, *args, env=env), 2, (path, param.name, value))
                tried += 1
    assert tried >= 25


MISSING_OK = {("ingest",): 0, ("kibana", "export"): 0, ("version",): 0, ("es", "setup"): 1, ("kibana", "import"): 1,
              ("check",): 1,  # check asks the DNS without a store
              ("dashboards", "export"): 0, ("index", "setup"): 1, ("dashboards", "import"): 1}


def test_every_command_on_a_missing_store(run, tmp_path):
    for path in COMMANDS:
        db = tmp_path / "-".join(path) / "typo" / "store.sqlite"
        assert_clean(run("--db", db, *path, *base_args(path, tmp_path)), MISSING_OK.get(path, 2), path)
        if path != ("ingest",):
            assert not db.parent.exists(), path


@pytest.mark.parametrize("content", [b"this is not a database " * 200, b"SQLite format 3\x00" + b"\xff" * 4096],
                         ids=["junk", "broken-header"])
def test_every_command_on_a_file_that_is_not_a_store(run, tmp_path, content):
    db = tmp_path / "broken.sqlite"
    db.write_bytes(content)
    expected = {("fetch",): 2, ("watch",): 2, ("kibana", "export"): 0, ("version",): 0, ("dashboards", "export"): 0}
    for path in COMMANDS:
        assert_clean(run("--db", db, *path, *base_args(path, tmp_path)), expected.get(path, 1), path)
    assert db.read_bytes() == content
    # the daemon with a mailbox gives up at once on a store it cannot open
    assert_clean(run("--db", db, "watch", env=MAILBOX_ENV), 1, "watch with a mailbox", daemon=True)


def test_every_command_on_a_folder_given_as_the_store(run, tmp_path):
    for path in COMMANDS:
        assert_clean(run("--db", tmp_path, *path, *base_args(path, tmp_path)), 2, path)
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{tmp_path}"\n')
    expected = {("fetch",): 2, ("watch",): 2, ("kibana", "export"): 0, ("version",): 0, ("dashboards", "export"): 0}
    for path in COMMANDS:
        assert_clean(run("--config", config, *path, *base_args(path, tmp_path)), expected.get(path, 1), path)


def test_every_command_on_a_store_on_a_read_only_mount(run, tmp_path):
    expected = {**GOOD, ("ingest",): 1, ("reprocess",): 1, ("alerts",): 1}
    with tmpfs(tmp_path / "ro", "8m") as mount:
        db = mount / "store.sqlite"
        assert run("--db", db, "ingest", "--offline", SAMPLES).exit_code == 0
        remount(mount, "ro")
        for path in COMMANDS:
            assert_clean(run("--db", db, *path, *base_args(path, tmp_path)), expected.get(path, 0), path)


BROKEN_CONFIGS = {
    "not-toml": "store = [",
    "unknown-section": "[sotre]\npath = 'x'\n",
    "unknown-key": "[limits]\nmax_rato = 5\n",
    "wrong-type": "[store]\npath = 3\n",
    "out-of-range": "[enrichment]\ndns_workers = 0\n",
    "not-an-ip": '[enrichment]\nnameservers = ["not-an-ip"]\n',
    "missing-ip-db": '[enrichment]\nip_db = "/nowhere/ip.mmdb"\n',
    "port": "[[mailboxes]]\nhost = 'h'\nuser = 'u'\nport = 99999\n",
    "reconnect": "[[mailboxes]]\nhost = 'h'\nuser = 'u'\nreconnect_min = 10\nreconnect_max = 1\n",
    "approved": "[approved.'example.com']\nnetworks = ['192.0.2.0/33']\n",
    "not-a-table": "limits = 3\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN_CONFIGS))
def test_every_command_with_a_broken_config_exits_2(run, good_store, tmp_path, name):
    config = tmp_path / "dmarcflow.toml"
    config.write_text(BROKEN_CONFIGS[name])
    for path in COMMANDS:
        result = run("--config", config, "--db", good_store, *path, *base_args(path, tmp_path))
        if name == "approved" and path not in (("summary",), ("senders",)):
            continue  # approved senders are read by the commands that use them
        assert_clean(result, 2, (name, path))
        assert result.stderr.startswith("Error: configuration: "), (name, path, result.stderr)


def test_every_command_with_a_missing_config_file_or_a_bad_environment_exits_2(run, good_store, tmp_path):
    for path in COMMANDS:
        args = base_args(path, tmp_path)
        assert_clean(run("--config", tmp_path / "nope.toml", "--db", good_store, *path, *args), 2, path)
        assert_clean(run("--db", good_store, *path, *args, env={"DMARCFLOW_LIMITS_MAX_RATIO": "lots"}), 2, path)
        unreadable = tmp_path / "secret-missing"
        assert_clean(run("--db", good_store, *path, *args, env={"DMARCFLOW_ELASTICSEARCH_PASSWORD_FILE": str(unreadable)}),
                     2, path)


def test_output_files_in_missing_folders_are_usage_errors(run, good_store, tmp_path):
    missing = tmp_path / "no" / "such" / "folder" / "out"
    assert_clean(run("--db", good_store, "rejected", "--save", "1", "--output", missing), 2, "rejected --save")
    assert_clean(run("--db", good_store, "kibana", "export", "--out", missing), 2, "kibana export --out")
    assert_clean(run("--db", good_store, "rejected", "--save", "999", "--output", tmp_path / "x"), 1, "unknown id")
    assert_clean(run("--db", good_store, "rejected", "--save", "1"), 2, "--save without --output")


def test_fetch_from_a_mailbox_that_does_not_answer_is_one_error(run, good_store):
    assert_clean(run("--db", good_store, "fetch", "--offline", env=MAILBOX_ENV), 1, "fetch")
