"""`dmarcflow watch` as a real subprocess against a real Dovecot: new mail, signals, faults, health.

No timing assertions: every wait is bounded and fails with the daemon's log tail.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import (
    Folders,
    WatchProcess,
    count_rows,
    expected,
    http_get,
    mailbox_table,
    plain_mail,
    report_mails,
    stored_identities,
    write_config,
)


def stored(db: Path, n: int, watch: WatchProcess) -> None:
    watch.until(lambda: count_rows(db, "reports") >= n, f"{n} report(s) in the store")


def filed(server: DovecotServer, counts: dict[str, int], watch: WatchProcess, folders: Folders | None = None) -> None:
    def now() -> dict[str, int]:
        return folders.counts(server) if folders else server.folder_counts()

    watch.until(lambda: now() == counts, f"folders {counts}", describe=lambda: f"folders now {now()}\n{watch.tail()}")


def test_watch_picks_up_new_mail_serves_health_and_stops_on_sigterm(
    shared_dovecot: DovecotServer, folders: Folders, db: Path, tmp_path: Path, http_port: int
) -> None:
    dovecot = shared_dovecot
    first, second = report_mails(2, seed=21)
    dovecot.append(folders.inbox, first.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(dovecot, poll_interval=300.0, **folders.table())])
    watch = WatchProcess(config, tmp_path / "watch.log", "--log-format", "json", "--http", f"127.0.0.1:{http_port}",
                         root_args=("-vv",))
    try:
        stored(db, 1, watch)
        watch.wait_log("IDLE")
        dovecot.append(folders.inbox, second.raw)  # announced by IDLE: the 300 s poll interval never comes into play
        stored(db, 2, watch)
        filed(dovecot, {"INBOX": 0, "Archive": 2, "Invalid": 0}, watch, folders)
        base = f"http://127.0.0.1:{http_port}"
        assert http_get(base + "/healthz") == (200, "ok\n")
        metrics = watch.until(lambda: _metric_lines(http_get(base + "/metrics")[1]), "metrics")
        assert metrics["dmarcflow_messages_seen_total"] == 2
        assert metrics["dmarcflow_reports_stored_total"] == 2
        assert (metrics["dmarcflow_rejected_total"], metrics["dmarcflow_duplicates_total"]) == (0, 0)
        assert http_get(base + "/nothing")[0] == 404
    finally:
        code = watch.stop(signal.SIGTERM)
    assert code == 0
    assert stored_identities(db) == expected([first, second])
    entries = [json.loads(line) for line in watch.text().splitlines()]  # every line is one JSON object
    assert entries[-1]["message"] == "dmarcflow watch: stopped (SIGTERM)"
    assert dovecot.password not in watch.text()


def _metric_lines(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name.split("{")[0]] = float(value)
    return values


def test_polling_when_the_server_has_no_idle(dovecot_installed: None, db: Path, tmp_path: Path) -> None:
    with DovecotServer(hide_capabilities={"IDLE"}) as server:
        [mail] = report_mails(1, seed=22)
        config = write_config(tmp_path / "c.toml", db, [mailbox_table(server, poll_interval=0.3)])
        watch = WatchProcess(config, tmp_path / "watch.log")
        try:
            watch.wait_log("polling every 0.3 s")
            server.append("INBOX", mail.raw)
            server.append("INBOX", plain_mail("not a report"))
            filed(server, {"INBOX": 0, "Archive": 1, "Invalid": 1}, watch)
        finally:
            assert watch.stop(signal.SIGINT) == 0
        assert stored_identities(db) == expected([mail])


def test_reconnects_after_the_server_restarts(dovecot: DovecotServer, db: Path, tmp_path: Path, http_port: int) -> None:
    before, after = report_mails(2, seed=23)
    dovecot.append("INBOX", before.raw)
    ca_file = tmp_path / "ca.pem"  # stop() below deletes the server's own files
    ca_file.write_bytes(dovecot.ca_file.read_bytes())
    box = mailbox_table(dovecot, poll_interval=1.0, ca_file=str(ca_file))
    config = write_config(tmp_path / "c.toml", db, [box])
    watch = WatchProcess(config, tmp_path / "watch.log", "--http", f"127.0.0.1:{http_port}", "--health-max-age", "2")
    try:
        stored(db, 1, watch)
        dovecot.restart()  # every connection is cut; the daemon sees EOF in IDLE
        dovecot.append("INBOX", after.raw)
        stored(db, 2, watch)
        filed(dovecot, {"INBOX": 0, "Archive": 2, "Invalid": 0}, watch)
        assert "reconnecting to 127.0.0.1" in watch.text()
        dovecot.stop()  # now for good: health must say why it is not ok
        status, body = watch.until(lambda: _unhealthy(f"http://127.0.0.1:{http_port}/healthz"), "/healthz to fail")
        assert status == 503
        assert body.startswith("mailbox reports: last successful poll ")
        assert "(limit 2 s); last error: mailbox 'reports': cannot connect to 127.0.0.1:" in body
    finally:
        assert watch.stop() == 0
    assert stored_identities(db) == expected([before, after])


def _unhealthy(url: str) -> tuple[int, str] | None:
    status, body = http_get(url)
    return (status, body) if status == 503 and "last error" in body else None


def test_sigkill_mid_batch_then_restart_stores_everything_once(
    shared_dovecot: DovecotServer, folders: Folders, db: Path, tmp_path: Path
) -> None:
    dovecot = shared_dovecot
    # Big reports (1000 records each) keep the daemon busy long enough to be killed part-way.
    mails = report_mails(10, seed=24, records=1000)
    for mail in mails:
        dovecot.append(folders.inbox, mail.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(dovecot, batch_size=5, **folders.table())])
    first = WatchProcess(config, tmp_path / "first.log")
    stored(db, 3, first)
    first.kill()
    counts = folders.counts(dovecot)
    assert counts["INBOX"] > 0, f"the daemon finished before it was killed: {counts}"

    second = WatchProcess(config, tmp_path / "second.log")
    try:
        filed(dovecot, {"INBOX": 0, "Archive": 10, "Invalid": 0}, second, folders)
    finally:
        assert second.stop() == 0
    assert stored_identities(db) == expected(mails)  # each report exactly once
    archived = dovecot.list_messages(folders.archive)
    assert len(archived) == len(set(archived)) == 10  # each message in exactly one copy


def test_sighup_reloads_the_configuration(shared_dovecot: DovecotServer, folders: Folders, db: Path, tmp_path: Path) -> None:
    dovecot = shared_dovecot
    first, second = report_mails(2, seed=25)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(dovecot, **folders.table())])
    watch = WatchProcess(config, tmp_path / "watch.log")
    try:
        dovecot.append(folders.inbox, first.raw)
        filed(dovecot, {"INBOX": 0, "Archive": 1, "Invalid": 0}, watch, folders)
        moved = {**folders.table(), "archive_folder": f"{folders.prefix}/Reports/2026"}
        write_config(config, db, [mailbox_table(dovecot, **moved)])
        watch.send(signal.SIGHUP)
        watch.wait_log("configuration reloaded from")
        dovecot.append(folders.inbox, second.raw)
        filed(dovecot, {"INBOX": 0, "Archive": 1, "Invalid": 0, "Reports/2026": 1}, watch, folders)
    finally:
        assert watch.stop() == 0
    assert stored_identities(db) == expected([first, second])


def test_wrong_password_exits_1_with_a_clear_message(shared_dovecot: DovecotServer, db: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(shared_dovecot, password="wrong-0xbeef")])
    watch = WatchProcess(config, tmp_path / "watch.log")
    code = watch.process.wait(30)
    assert code == 1
    assert ("giving up: mailbox 'reports': login as 'user' at 127.0.0.1 refused: [AUTHENTICATIONFAILED] "
            "Authentication failed.") in watch.text()
    assert "Traceback" not in watch.text() and "wrong-0xbeef" not in watch.text()


def test_sigterm_mid_pass_files_what_was_stored_and_leaves_the_rest(
    shared_dovecot: DovecotServer, folders: Folders, db: Path, tmp_path: Path
) -> None:
    """SIGTERM: the message in hand is finished and filed; nothing stored stays behind, nothing unstored moves."""
    mails = report_mails(12, seed=26, records=1500)
    for mail in mails:
        shared_dovecot.append(folders.inbox, mail.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(shared_dovecot, batch_size=50, **folders.table())])
    watch = WatchProcess(config, tmp_path / "watch.log")
    stored(db, 2, watch)
    assert watch.stop(signal.SIGTERM) == 0
    reports = count_rows(db, "reports")
    counts = folders.counts(shared_dovecot)
    assert counts == {"INBOX": 12 - reports, "Archive": reports, "Invalid": 0}
    assert 0 < counts["INBOX"], f"the daemon finished everything before SIGTERM arrived: {counts}"
    assert watch.text().splitlines()[-1].endswith("dmarcflow watch: stopped (SIGTERM)")


def test_two_daemons_on_one_mailbox_and_store_count_each_report_once(
    shared_dovecot: DovecotServer, folders: Folders, db: Path, tmp_path: Path
) -> None:
    """Both daemons may read the same message; dedupe makes the second store a no-op and MOVE is atomic."""
    mails = report_mails(8, seed=27, records=300)
    for mail in mails:
        shared_dovecot.append(folders.inbox, mail.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(shared_dovecot, batch_size=2, **folders.table())])
    one = WatchProcess(config, tmp_path / "one.log")
    two = WatchProcess(config, tmp_path / "two.log")
    try:
        filed(shared_dovecot, {"INBOX": 0, "Archive": 8, "Invalid": 0}, one, folders)
        for daemon in (one, two):  # under load one may file everything before the other has its signal handlers
            daemon.wait_log("dmarcflow watch: watching")
    finally:
        assert (one.stop(), two.stop()) == (0, 0)
    assert stored_identities(db) == expected(mails)
    archived = shared_dovecot.list_messages(folders.archive)
    assert len(archived) == len(set(archived)) == 8
