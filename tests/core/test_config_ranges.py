"""Every settings value is range-checked at load; each error names the key as written and what to write."""

from __future__ import annotations

import pytest

from dmarcflow.config import load_settings
from dmarcflow.errors import ConfigError

BOX = '[[mailboxes]]\nhost = "imap.example.com"\nuser = "u"\n'

CASES = [
    # [limits]: every limit at least 1, nesting at most 32
    ("[limits]\nmax_total_bytes = -1\n", {}, "[limits] max_total_bytes = -1: must be a whole number of at least 1 (write e.g. max_total_bytes = 1073741824)"),
    ("[limits]\nmax_members = 0\n", {}, "[limits] max_members = 0: must be a whole number of at least 1 (write e.g. max_members = 64)"),
    ("[limits]\nmax_depth = 1000\n", {}, "[limits] max_depth = 1000: must be a whole number from 1 to 32 (write e.g. max_depth = 4)"),
    ("[limits]\nmax_message_bytes = 0\n", {}, "[limits] max_message_bytes = 0: must be a whole number of at least 1 (write e.g. max_message_bytes = 67108864)"),
    ("", {"DMARCFLOW_LIMITS_MAX_RATIO": "-5"}, "DMARCFLOW_LIMITS_MAX_RATIO = -5: must be a whole number of at least 1 (write e.g. DMARCFLOW_LIMITS_MAX_RATIO=200)"),
    # [enrichment]
    ('[enrichment]\nnameservers = ["not-an-ip"]\n', {}, '[enrichment] nameservers = ["not-an-ip"]: \'not-an-ip\' is not an IP address (write e.g. nameservers = ["192.0.2.53"])'),
    ("", {"DMARCFLOW_ENRICHMENT_NAMESERVERS": "127.0.0.1,dns.example"}, "DMARCFLOW_ENRICHMENT_NAMESERVERS = [\"127.0.0.1\", \"dns.example\"]: 'dns.example' is not an IP address (write e.g. DMARCFLOW_ENRICHMENT_NAMESERVERS=192.0.2.53)"),
    ("[enrichment]\ndns_port = 99999\n", {}, "[enrichment] dns_port = 99999: must be a whole number from 1 to 65535 (write e.g. dns_port = 53)"),
    ("[enrichment]\ndns_port = 0\n", {}, "[enrichment] dns_port = 0: must be a whole number from 1 to 65535 (write e.g. dns_port = 53)"),
    ("[enrichment]\ndns_workers = 0\n", {}, "[enrichment] dns_workers = 0: must be a whole number from 1 to 256 (write e.g. dns_workers = 16)"),
    ("[enrichment]\ndns_timeout = 0\n", {}, "[enrichment] dns_timeout = 0.0: must be a number of seconds above 0 and at most 300 (write e.g. dns_timeout = 2.0)"),
    ("[enrichment]\ndns_timeout = nan\n", {}, "[enrichment] dns_timeout = nan: must be a number of seconds above 0 and at most 300 (write e.g. dns_timeout = 2.0)"),
    ('[enrichment]\nip_db = "/nowhere/ip.mmdb"\n', {}, '[enrichment] ip_db = "/nowhere/ip.mmdb": no such file (give the path of an MMDB database, or leave it empty) (write e.g. ip_db = "")'),
    # [elasticsearch]
    ('[elasticsearch]\nurl = "http://es.example:99999"\n', {}, '[elasticsearch] url = "http://es.example:99999": not a valid URL (Port out of range 0-65535) (write e.g. url = "https://es.example.net:9200")'),
    ('[elasticsearch]\nurl = "es.example:9200"\n', {}, '[elasticsearch] url = "es.example:9200": must be an http:// or https:// URL with a host name (write e.g. url = "https://es.example.net:9200")'),
    ('[elasticsearch]\nurl = "ftp://es.example"\n', {}, '[elasticsearch] url = "ftp://es.example": must be an http:// or https:// URL with a host name (write e.g. url = "https://es.example.net:9200")'),
    ('[elasticsearch]\nindex_prefix = "DMARC"\n', {}, '[elasticsearch] index_prefix = "DMARC": must be lowercase letters, digits, \'-\', \'_\' or \'.\', starting with a letter or digit (write e.g. index_prefix = "dmarcflow")'),
    ('[elasticsearch]\nindex_period = "week"\n', {}, "[elasticsearch] index_period must be day, month or year, not 'week'"),
    ("[elasticsearch]\nretention_days = -1\n", {}, "[elasticsearch] retention_days = -1: must be a whole number of at least 0 (write e.g. retention_days = 0)"),
    ("[elasticsearch]\nbatch_size = -100\n", {}, "[elasticsearch] batch_size = -100: must be a whole number from 1 to 100000 (write e.g. batch_size = 2000)"),
    ("[elasticsearch]\ntimeout = -1\n", {}, "[elasticsearch] timeout = -1.0: must be a number of seconds above 0 and at most 3600 (write e.g. timeout = 30.0)"),
    ("[elasticsearch]\nshards = -1\n", {}, "[elasticsearch] shards = -1: must be a whole number from 1 to 1024 (write e.g. shards = 1)"),
    ("[elasticsearch]\nshards = 0\n", {}, "[elasticsearch] shards = 0: must be a whole number from 1 to 1024 (write e.g. shards = 1)"),
    ("[elasticsearch]\nreplicas = -1\n", {}, "[elasticsearch] replicas = -1: must be a whole number from 0 to 100 (write e.g. replicas = 1)"),
    ("[elasticsearch]\nmax_retries = -1\n", {}, "[elasticsearch] max_retries = -1: must be a whole number from 0 to 100 (write e.g. max_retries = 5)"),
    ('[elasticsearch]\nca_file = "/nowhere/ca.pem"\n', {}, '[elasticsearch] ca_file = "/nowhere/ca.pem": no such file (give the path of the CA bundle that signed the cluster\'s certificate, or leave it empty) (write e.g. ca_file = "")'),
    # [[mailboxes]]
    (BOX + "port = 99999\n", {}, "[mailboxes.0] port = 99999: must be a whole number from 0 to 65535 (write e.g. port = 0)"),
    (BOX + "batch_size = -1\n", {}, "[mailboxes.0] batch_size = -1: must be a whole number from 1 to 10000 (write e.g. batch_size = 500)"),
    (BOX + "poll_interval = 0\n", {}, "[mailboxes.0] poll_interval = 0.0: must be a number of seconds above 0 and at most 86400 (write e.g. poll_interval = 60.0)"),
    (BOX + "idle_timeout = -1\n", {}, "[mailboxes.0] idle_timeout = -1.0: must be a number of seconds above 0 and at most 86400 (write e.g. idle_timeout = 1500.0)"),
    (BOX + "timeout = 0\n", {}, "[mailboxes.0] timeout = 0.0: must be a number of seconds above 0 and at most 3600 (write e.g. timeout = 60.0)"),
    (BOX + "reconnect_min = 0\n", {}, "[mailboxes.0] reconnect_min = 0.0: must be a number of seconds above 0 and at most 86400 (write e.g. reconnect_min = 1.0)"),
    (BOX + "reconnect_min = 600\nreconnect_max = 60\n", {}, "[mailboxes.0] reconnect_max = 60.0: must not be below reconnect_min (600) (write e.g. reconnect_max = 600.0)"),
    (BOX + 'name = "a/b"\n', {}, '[mailboxes.0] name = "a/b": must be a non-empty name without \'/\' (it is part of imap://NAME/FOLDER/UID) (write e.g. name = "reports")'),
    (BOX + 'folder = ""\n', {}, '[mailboxes.0] folder = "": must not be empty (write e.g. folder = "INBOX")'),
    (BOX + 'archive_folder = " "\n', {}, '[mailboxes.0] archive_folder = " ": must not be empty (write e.g. archive_folder = "Archive")'),
    ("", {"DMARCFLOW_MAILBOX_HOST": "imap.example.com", "DMARCFLOW_MAILBOX_PORT": "70000"}, "DMARCFLOW_MAILBOX_PORT = 70000: must be a whole number from 0 to 65535 (write e.g. DMARCFLOW_MAILBOX_PORT=0)"),
]


@pytest.mark.parametrize(("text", "env", "message"), CASES, ids=[c[2].split(":")[0] for c in CASES])
def test_out_of_range_values_are_refused_naming_the_key(tmp_path, text, env, message):
    path = tmp_path / "dmarcflow.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env)
    assert str(info.value) == message


def test_the_edges_of_every_range_are_accepted(tmp_path):
    path = tmp_path / "dmarcflow.toml"
    path.write_text(
        "[limits]\nmax_depth = 32\nmax_ratio = 1\n"
        '[enrichment]\nnameservers = ["127.0.0.1", "::1"]\ndns_port = 65535\ndns_workers = 256\ndns_timeout = 300\n'
        '[elasticsearch]\nurl = "http://127.0.0.1:9200"\nreplicas = 0\nmax_retries = 0\nretention_days = 0\nbatch_size = 100000\n'
        + BOX + "port = 65535\nreconnect_min = 5\nreconnect_max = 5\n"
    )
    settings = load_settings(path, env={})
    assert (settings.limits.max_depth, settings.enrichment.dns_port, settings.mailboxes[0].reconnect_max) == (32, 65535, 5.0)


def test_a_config_error_on_the_command_line_exits_2_with_one_line(cli, tmp_path):
    path = tmp_path / "dmarcflow.toml"
    path.write_text('[enrichment]\nnameservers = ["not-an-ip"]\n')
    result = cli("--config", path, "--db", tmp_path / "s.sqlite", "ingest", path)
    assert (result.exit_code, result.stderr) == (
        2, 'Error: configuration: [enrichment] nameservers = ["not-an-ip"]: \'not-an-ip\' is not an IP address '
           '(write e.g. nameservers = ["192.0.2.53"])\n')
    assert not (tmp_path / "s.sqlite").exists()


def test_an_ip_db_that_is_not_a_database_exits_2_before_a_store_is_made(cli, tmp_path):
    junk = tmp_path / "ip.mmdb"
    junk.write_bytes(b"not a database")
    path = tmp_path / "dmarcflow.toml"
    path.write_text(f'[enrichment]\nip_db = "{junk}"\n')
    result = cli("--config", path, "--db", tmp_path / "s.sqlite", "ingest", "--offline", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f'Error: configuration: [enrichment] ip_db = "{junk}": not a readable MMDB database (')
    assert result.stderr.endswith("); give an IPinfo, MaxMind or DB-IP .mmdb file, or leave ip_db empty\n")
    assert not (tmp_path / "s.sqlite").exists()
