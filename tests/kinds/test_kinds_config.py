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
