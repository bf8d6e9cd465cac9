"""Start-up: what `dmarcflow --help` and an offline ingest import, and the static command table (issue 16).

Each check runs a fresh interpreter (the test process has imported everything already) and asserts which
modules it loaded, never how long it took.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click

from dmarcflow.cli.app import COMMAND_MODULES, COMMANDS, main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_reports"

# Modules no command that only prints its help needs; loading any one of them costs tens of milliseconds.
HEAVY = ("dmarcflow.cli.ingest", "dmarcflow.cli.summary", "dmarcflow.cli.mailbox", "dmarcflow.cli.check",
         "dmarcflow.cli.index", "dmarcflow.cli.notify", "dmarcflow.cli.web", "dmarcflow.config", "dmarcflow.store",
         "dmarcflow.analysis", "dmarcflow.alerts", "dns.resolver", "elasticsearch", "parsedmarc", "lxml")


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (which must not print to stdout)."""
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _all_commands_loaded() -> dict[str, click.Command]:
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(module)
    return dict(main.commands)


def test_help_imports_no_command_module_nor_heavy_dependency() -> None:
    code = ("import contextlib, io\nfrom dmarcflow.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            "    main(['--help'], prog_name='dmarcflow')\nassert 'ingest' in out.getvalue()")
    loaded = _loaded_after(code)
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_command_table_matches_the_commands() -> None:
    commands = _all_commands_loaded()
    assert sorted(commands) == sorted(COMMANDS)
    for name, command in commands.items():
        module, short_help = COMMANDS[name]
        assert command.callback is not None
        assert (name, command.callback.__module__) == (name, module)
        assert (name, command.get_short_help_str(10**6)) == (name, short_help)


def test_help_lists_commands_as_click_would_with_every_module_loaded() -> None:
    # A fresh process has loaded no command module: its listing comes from COMMANDS alone.
    lazy = subprocess.run([sys.executable, "-m", "dmarcflow", "--help"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "80"}, check=False)
    _all_commands_loaded()
    ctx = click.Context(main, info_name="dmarcflow", terminal_width=78)  # what click makes of an 80-column terminal
    formatter = ctx.make_formatter()
    click.Group.format_commands(main, ctx, formatter)  # click's own listing, from the loaded commands
    assert (lazy.returncode, lazy.stderr) == (0, "")
    expected = formatter.getvalue()
    assert expected.startswith("Commands:\n  alerts      Evaluate the alert rules")
    assert lazy.stdout.endswith("\n" + expected)


def test_parsedmarc_data_files_are_found_without_importing_it() -> None:
    code = ("from dmarcflow.enrich import default_ip_db, load_service_map\n"
            "assert default_ip_db().is_file()\nassert len(load_service_map()) > 1000")
    assert "parsedmarc" not in _loaded_after(code)


def test_parsedmarc_data_files_are_the_ones_its_package_ships() -> None:
    from importlib import resources

    from dmarcflow.enrich import default_ip_db

    shipped = Path(str(resources.files("parsedmarc.resources.ipinfo").joinpath("ipinfo_lite.mmdb")))
    assert default_ip_db() == shipped


def test_offline_ingest_imports_neither_dns_resolver_nor_analysis(tmp_path: Path) -> None:
    report = next(p for p in sorted(SAMPLES.rglob("*.xml")) if p.stat().st_size < 20_000)
    db = tmp_path / "s.sqlite"
    code = ("import contextlib, io\nfrom dmarcflow.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            f"    main(['--db', {str(db)!r}, 'ingest', '--offline', '--format', 'json', {str(report)!r}],"
            " prog_name='dmarcflow')\n"
            "assert json.loads(out.getvalue())[0]['status'] == 'ingested', out.getvalue()")
    loaded = _loaded_after(code)
    assert sorted(m for m in ("dns.resolver", "parsedmarc", "dmarcflow.analysis", "dmarcflow.cli.summary",
                              "elasticsearch") if m in loaded) == []


# What ingesting one plain aggregate report leaves unimported (each module is imported where it is needed):
# the other kinds (with their parsers, store repositories and index feeds), the search index, the mail and
# zip readers, the worker pool (one file gets no worker), the store's repositories ingest never asks, and
# maxminddb with importlib.metadata (a few lookups go through dmarcflow.ip_database's own reader).
NOT_FOR_ONE_AGGREGATE_FILE = (
    "maxminddb", "importlib.metadata",
    "dmarcflow.kinds.tls_kind", "dmarcflow.kinds.tls", "dmarcflow.kinds.failure_kind", "dmarcflow.kinds.failure",
    "dmarcflow.kinds.arf", "dmarcflow.store.tls", "dmarcflow.store.failures", "dmarcflow.index",
    "dmarcflow.index.feed", "dmarcflow.index.document", "dmarcflow.mime", "dmarcflow.archive",
    "dmarcflow.worker_pool", "dmarcflow.reprocess", "dmarcflow.store.alerts", "dmarcflow.store.checks",
    "dmarcflow.store.check_cache", "dmarcflow.store.series", "dmarcflow.store.reports", "dmarcflow.store.rollups",
)


def _ingest_code(db: Path, *paths: Path) -> str:
    """A fresh interpreter's `dmarcflow --db DB ingest --offline --format json PATHS`; asserts one outcome per path."""
    argv = ["--db", str(db), "ingest", "--offline", "--format", "json", *map(str, paths)]
    return ("import contextlib, io\nfrom dmarcflow.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            f"    main({argv!r}, prog_name='dmarcflow')\n"
            "outcomes = [(o['kind'], o['status']) for o in json.loads(out.getvalue())]\n"
            f"assert len(outcomes) == {len(paths)}, out.getvalue()\n"
            "print(json.dumps(outcomes))")


def test_one_aggregate_file_imports_no_other_kind_nor_the_index(tmp_path: Path) -> None:
    report = SAMPLES / "mail.ru!example.net!1772582400!1772668799.xml"
    loaded = _loaded_after(_ingest_code(tmp_path / "s.sqlite", report))
    assert sorted(m for m in NOT_FOR_ONE_AGGREGATE_FILE if m in loaded) == []
    assert "dmarcflow.kinds.aggregate_kind" in loaded


def test_tls_and_failure_reports_still_ingest_in_a_fresh_process(tmp_path: Path) -> None:
    inputs = (SAMPLES / "tls" / "kestrel-net.de!example.net!1772409600!1772495999.json",
              SAMPLES / "failure" / "email-arf-rfc822-headers.eml", SAMPLES / "email-text-xml.eml")
    probe = f"import sys, json\n{_ingest_code(tmp_path / 's.sqlite', *inputs)}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        ["tls", "ingested"], ["failure", "ingested"], ["aggregate", "ingested"]]
