"""config/dmarcflow.service: verified by systemd's own parser, and its command line accepted by the CLI.

The daemon's notifications under it are tested for real in tests/imap/test_imap_notify.py.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dmarcflow.cli import main
from tests.support.compose import REPO

UNIT = REPO / "config" / "dmarcflow.service"


def _directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze comes with the systemd package (scripts/install-system-deps.sh)"
    installed = Path(sys.executable).parent / "dmarcflow"  # the unit's ExecStart, pointed at this venv
    unit = tmp_path / "dmarcflow.service"
    unit.write_text(UNIT.read_text().replace("/opt/dmarcflow/bin/dmarcflow", str(installed)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_notify_service_with_watchdog_reload_and_no_restart_on_config_errors() -> None:
    d = _directives()
    assert (d["Type"], d["NotifyAccess"], d["WatchdogSec"]) == (["notify"], ["main"], ["120"])
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert (d["Restart"], d["RestartPreventExitStatus"]) == (["on-failure"], ["2"])
    assert (d["User"], d["StateDirectory"], d["NoNewPrivileges"]) == (["dmarcflow"], ["dmarcflow"], ["yes"])
    assert d["Environment"] == ["DMARCFLOW_DB=/var/lib/dmarcflow/dmarcflow.sqlite",
                                "DMARCFLOW_MAILBOX_PASSWORD_FILE=%d/imap-password"]
    assert d["LoadCredential"] == ["imap-password:/etc/dmarcflow/imap-password"]


def test_the_command_line_is_one_the_cli_accepts() -> None:
    [command] = _directives()["ExecStart"]
    argv = shlex.split(command)
    assert argv[0] == "/opt/dmarcflow/bin/dmarcflow"
    # --help after the real options: click parses (and would refuse) every option before it prints help.
    result = CliRunner().invoke(main, [*argv[1:], "--help"])
    assert (result.exit_code, result.output.splitlines()[0]) == (0, "Usage: main watch [OPTIONS]")
    broken = CliRunner().invoke(main, [*argv[1:], "--no-such-option", "--help"])
    assert broken.exit_code == 2
