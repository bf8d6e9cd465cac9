"""The compose stack's daemon configuration, run as shipped against a real IMAP server.

docker-compose.yml cannot run here (no Docker engine): this runs `dmarcflow watch` with the daemon
service's own environment and config file (container paths mapped to this machine), the mailbox from
.env's variables pointed at the test Dovecot. Its Elasticsearch (http://elasticsearch:9200) does not
exist here, which also shows that ingestion does not depend on the index.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.compose import daemon_env, env_example, load
from tests.support.dovecot import DovecotServer, free_port
from tests.support.imap_mail import Folders, WatchProcess, count_rows, http_get, report_mails


def test_the_shipped_compose_config_runs_stores_and_stays_healthy(shared_dovecot: DovecotServer, folders: Folders,
                                                                 tmp_path: Path) -> None:
    [mail] = report_mails(1, seed=51)
    shared_dovecot.append(folders.inbox, mail.raw)
    values = {**env_example(), "IMAP_HOST": shared_dovecot.host, "IMAP_USER": shared_dovecot.user}
    services = load(values)["services"]
    env = daemon_env(services, tmp_path, {"imap_password": shared_dovecot.password, "dmarcflow_es_password": "x"})
    # Where this test server differs from a real one: its port, its private CA, this test's folders.
    env.update({"DMARCFLOW_MAILBOX_PORT": str(shared_dovecot.tls_port),
                "DMARCFLOW_MAILBOX_CA_FILE": str(shared_dovecot.ca_file),
                **{f"DMARCFLOW_MAILBOX_{k.upper()}": str(v) for k, v in folders.table().items()}})
    command = services["dmarcflow"]["command"]
    assert command[:2] == ["watch", "--http"]
    port = free_port()
    args = ["--http", f"127.0.0.1:{port}", *command[3:]]  # loopback instead of the container's 0.0.0.0:9108
    db = tmp_path / "data" / "dmarcflow.sqlite"
    watch = WatchProcess(Path(env.pop("DMARCFLOW_CONFIG")), tmp_path / "watch.log", *args, env=env)
    try:
        watch.until(lambda: db.exists() and count_rows(db, "reports") == 1, "the report stored")
        watch.until(lambda: folders.counts(shared_dovecot) == {"INBOX": 0, "Archive": 1, "Invalid": 0}, "mail archived")
        watch.wait_log("index sync stopped: http://elasticsearch:9200 unreachable")
        assert watch.until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, "/healthz 200")
    finally:
        code = watch.stop(signal.SIGTERM)
    assert code == 0
    assert shared_dovecot.password not in watch.text()
