"""The notification sections' defaults pass their own checks (config loading skips checking them)."""

from __future__ import annotations

import sys
import subprocess

from dmarcflow.config import AlertsSettings, DigestSettings, SmtpSettings
from dmarcflow.notify.settings_checks import check_section


def test_the_defaults_pass_the_checks_that_loading_skips() -> None:
    for section, settings in (("smtp", SmtpSettings()), ("alerts", AlertsSettings()), ("digest", DigestSettings())):
        check_section(settings, section)  # raises ConfigError if a default were invalid


def test_loading_a_config_without_notify_sections_imports_no_smtp_code(tmp_path) -> None:
    config = tmp_path / "dmarcflow.toml"
    config.write_text('[enrichment]\noffline = true\n', encoding="utf-8")
    code = ("import sys\nfrom pathlib import Path\nfrom dmarcflow.config import load_settings\n"
            f"load_settings(Path({str(config)!r}))\n"
            "print(sorted(m for m in sys.modules if m.startswith(('dmarcflow.notify', 'ssl', 'smtplib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
