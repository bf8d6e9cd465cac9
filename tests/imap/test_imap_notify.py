"""`dmarcflow watch` under a stand-in for systemd: the sd_notify messages, received on a real socket.

The daemon is a real subprocess against the test Dovecot, with NOTIFY_SOCKET pointing at a datagram
socket the test reads (systemd itself cannot run here), and WATCHDOG_USEC of 1 s.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import Folders, WatchProcess, count_rows, mailbox_table, report_mails, write_config
from tests.support.notify_socket import NotifySocket


def test_ready_watchdog_reload_and_stopping(shared_dovecot: DovecotServer, folders: Folders, db: Path,
                                            tmp_path: Path) -> None:
    [mail] = report_mails(1, seed=41)
    shared_dovecot.append(folders.inbox, mail.raw)
    config = write_config(tmp_path / "c.toml", db, [mailbox_table(shared_dovecot, poll_interval=300.0, **folders.table())])
    with NotifySocket() as sock:
        watch = WatchProcess(config, tmp_path / "watch.log",
                             env={"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "1000000"})
        try:
            ready = sock.until("READY")
            assert ready == {"READY": "1", "STATUS": "watching 1 mailbox(es): reports"}
            watch.until(lambda: count_rows(db, "reports") == 1, "the report stored")
            pings = [sock.until("WATCHDOG") for _ in range(3)]  # every 0.5 s, each with the current status
            assert pings[-1] == {"WATCHDOG": "1", "STATUS": "watching 1 mailbox(es): reports"}
            watch.send(signal.SIGHUP)
            reloading = sock.until("RELOADING")
            assert (reloading["RELOADING"], reloading["STATUS"]) == ("1", "reloading the configuration")
            assert int(reloading["MONOTONIC_USEC"]) > 0
            assert sock.until("READY") == {"READY": "1", "STATUS": "watching 1 mailbox(es): reports"}
            watch.send(signal.SIGTERM)
            assert sock.until("STOPPING") == {"STOPPING": "1",
                                              "STATUS": "stopping (SIGTERM): finishing the message in hand"}
        finally:
            code = watch.stop(signal.SIGTERM)
    assert code == 0
    assert "cannot notify systemd" not in watch.text()


def test_a_fatal_login_error_says_why_in_the_last_status(shared_dovecot: DovecotServer, folders: Folders, db: Path,
                                                         tmp_path: Path) -> None:
    table = mailbox_table(shared_dovecot, **folders.table())
    table["password"] = "wrong-password"
    config = write_config(tmp_path / "c.toml", db, [table])
    with NotifySocket() as sock:
        watch = WatchProcess(config, tmp_path / "watch.log", env={"NOTIFY_SOCKET": str(sock.path)})
        try:
            assert sock.until("READY")["READY"] == "1"
            stopping = sock.until("STOPPING")
            code = watch.process.wait(30)  # it exits by itself
        finally:
            watch.kill()
    assert code == 1
    assert stopping["STOPPING"] == "1"
    assert stopping["STATUS"].startswith("giving up: ")
    assert "wrong-password" not in stopping["STATUS"]
