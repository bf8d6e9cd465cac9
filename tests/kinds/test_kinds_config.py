"""[failure_reports]: documented in the example config, validated, overridable from the environment."""

from __future__ import annotations

import tomllib
from dataclasses import fields

import pytest

from dmarcflow.config import FailureReportSettings, load_settings
from dmarcflow.errors import ConfigError
from tests.conftest import REPO

EXAMPLE = REPO / "config" / "dmarcflow.example.toml"


def test_the_example_documents_the_section_with_its_defaults():
    data = tomllib.loads(EXAMPLE.read_text())
    assert sorted(data["failure_reports"]) == sorted(f.name for f in fields(FailureReportSettings))
    assert load_settings(EXAMPLE, env={}).failure_reports == FailureReportSettings(keep_samples=False)


def test_environment_and_file(tmp_path):
    assert load_settings(None, env={"DMARCFLOW_FAILURE_REPORTS_KEEP_SAMPLES": "yes"}).failure_reports.keep_samples
    path = tmp_path / "c.toml"
    path.write_text("[failure_reports]\nkeep_samples = true\n")
    assert load_settings(path, env={}).failure_reports.keep_samples is True
    path.write_text('[failure_reports]\nkeep_samples = "sometimes"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert str(err.value) == "failure_reports.keep_samples: expected true or false, got 'sometimes'"
    path.write_text("[failure_reports]\nkeep_body = true\n")
    with pytest.raises(ConfigError) as unknown:
        load_settings(path, env={})
    assert str(unknown.value) == "[failure_reports] unknown key(s): keep_body"


def test_each_kind_may_have_its_own_archive_folder():
    from dataclasses import replace

    from dmarcflow.config import MailboxSettings
    from dmarcflow.mailbox import check_settings

    box = MailboxSettings(name="m", host="127.0.0.1", user="u", password="p", tls_archive_folder="TLS")
    assert (box.archive_folder_for("tls"), box.archive_folder_for("failure"), box.archive_folder_for("aggregate"),
            box.archive_folder_for("mixed"), box.archive_folder_for(None)) == ("TLS", "Archive", "Archive", "Archive",
                                                                               "Archive")
    assert box.archive_folders() == ("Archive", "TLS")
    with pytest.raises(ConfigError) as err:
        check_settings(replace(box, failure_archive_folder="INBOX"))
    assert str(err.value) == "mailbox 'm': tls_archive_folder and failure_archive_folder must differ from folder"
    env = {"DMARCFLOW_MAILBOX_HOST": "127.0.0.1", "DMARCFLOW_MAILBOX_FAILURE_ARCHIVE_FOLDER": "DMARC/Failures"}
    assert load_settings(None, env=env).mailboxes[0].failure_archive_folder == "DMARC/Failures"
