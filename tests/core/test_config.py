"""Settings: TOML file, environment overrides, secrets from files, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmarcflow.config import load_settings
from dmarcflow.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "dmarcflow.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    settings = load_settings(env={})
    assert settings.store.resolved_path() == Path(os.environ["XDG_DATA_HOME"]) / "dmarcflow" / "dmarcflow.sqlite"
    assert (settings.limits.max_ratio, settings.enrichment.offline, settings.mailboxes, settings.elasticsearch.url) == (200, False, (), "")


def test_file_then_environment_overrides(tmp_path):
    path = write(tmp_path, """
[store]
path = "/data/dmarc.sqlite"
[enrichment]
offline = true
nameservers = ["192.0.2.53"]
[[mailboxes]]
name = "rua"
host = "imap.example.com"
user = "dmarc@example.com"
[approved."Example.com"]
services = ["Google (Including Gmail and Google Workspace)"]
networks = ["192.0.2.0/24", "2001:db8::/32"]
""")
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    env = {"DMARCFLOW_STORE_PATH": "/other.sqlite", "DMARCFLOW_MAILBOX_PORT": "1993", "DMARCFLOW_MAILBOX_PASSWORD_FILE": str(pw),
           "DMARCFLOW_ENRICHMENT_OFFLINE": "no", "DMARCFLOW_ENRICHMENT_NAMESERVERS": "127.0.0.1, 127.0.0.2"}
    s = load_settings(path, env=env)
    assert s.store.path == "/other.sqlite"
    assert (s.enrichment.offline, s.enrichment.nameservers) == (False, ("127.0.0.1", "127.0.0.2"))
    box = s.mailboxes[0]
    assert (box.name, box.host, box.port, box.password, box.effective_port()) == ("rua", "imap.example.com", 1993, "s3cret", 1993)
    assert "s3cret" not in repr(s)
    assert s.approved["example.com"].networks == ("192.0.2.0/24", "2001:db8::/32")


def test_mailbox_from_environment_only():
    s = load_settings(env={"DMARCFLOW_MAILBOX_HOST": "imap.example.net", "DMARCFLOW_MAILBOX_TLS": "starttls"})
    assert [(m.name, m.host, m.tls, m.effective_port()) for m in s.mailboxes] == [("default", "imap.example.net", "starttls", 143)]


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[store]\npath = 3\n", {}, "store.path: expected a string, got 3"),
        ("[sotre]\npath = 'x'\n", {}, "unknown section(s) sotre"),
        ("[limits]\nmax_ratio = 0\n", {}, "[limits] max_ratio = 0: must be a whole number of at least 1 (write e.g. max_ratio = 200)"),
        ("[limits]\nmax_rato = 5\n", {}, "[limits] unknown key(s): max_rato"),
        ("[[mailboxes]]\ntls = 'ssl'\n", {}, "[mailboxes.0] tls must be implicit, starttls or none, not 'ssl'"),
        ("[approved.'example.com']\nnetworks = ['192.0.2.300/24']\n", {}, "networks: '192.0.2.300/24' is not an IP network"),
        ("[approved.'example.com']\nservices = 'Google'\n", {}, "approved.example.com.services: expected a list of strings, got 'Google'"),
        ("", {"DMARCFLOW_LIMITS_MAX_RATIO": "lots"}, "DMARCFLOW_LIMITS_MAX_RATIO: expected an integer, got 'lots'"),
        ("store = [", {}, "not valid TOML"),
    ],
)
def test_invalid_settings_say_what_to_fix(tmp_path, text, env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env=env)
    assert message in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", env={})
    assert str(info.value) == f"config file not found: {tmp_path / 'nope.toml'}"


def test_the_example_config_documents_every_key_and_loads():
    import tomllib
    from dataclasses import fields

    from dmarcflow import config as c
    from tests.conftest import REPO

    path = REPO / "config" / "dmarcflow.example.toml"
    data = tomllib.loads(path.read_text())
    for section, cls in (("store", c.StoreSettings), ("limits", c.Limits), ("enrichment", c.EnrichmentSettings),
                         ("elasticsearch", c.ElasticsearchSettings), ("web", c.WebSettings),
                         ("dns", c.DnsSettings)):
        assert sorted(data[section]) == sorted(f.name for f in fields(cls)), section
        assert getattr(load_settings(path, env={}), section) == cls(), section  # the example shows the defaults
    for section, cls in (("smtp", c.SmtpSettings), ("alerts", c.AlertsSettings), ("digest", c.DigestSettings)):
        assert sorted(data[section]) == sorted(c.config_key(f.name) for f in fields(cls)), section
        assert getattr(load_settings(path, env={}), section) == cls(), section
    assert sorted(data["mailboxes"][0]) == sorted(f.name for f in fields(c.MailboxSettings))
    assert sorted(data["approved"]["example.com"]) == sorted(f.name for f in fields(c.ApprovedSenders))
