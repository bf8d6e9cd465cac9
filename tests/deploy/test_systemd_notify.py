"""The sd_notify protocol in-process, on a real AF_UNIX datagram socket (the daemon's run is in tests/imap)."""

from __future__ import annotations

import logging
import os
import socket
import uuid

from dmarcflow.systemd_notify import Notifier
from tests.support.notify_socket import NotifySocket


def test_messages_arrive_as_single_datagrams_of_key_value_lines() -> None:
    with NotifySocket() as sock:
        notifier = Notifier(str(sock.path), watchdog_usec=3_000_000)
        notifier.ready("watching 1 mailbox(es): main")
        notifier.watchdog()
        notifier.status("line one\nline two")  # a newline would start a new assignment: flattened
        notifier.stopping("stopping (SIGTERM)")
        notifier.close()
        assert [sock.receive(5) for _ in range(4)] == [
            {"READY": "1", "STATUS": "watching 1 mailbox(es): main"},
            {"WATCHDOG": "1"},
            {"STATUS": "line one line two"},
            {"STOPPING": "1", "STATUS": "stopping (SIGTERM)"},
        ]
    assert notifier.watchdog_interval == 1.5


def test_reloading_carries_the_monotonic_time_systemd_matches_it_with() -> None:
    with NotifySocket() as sock:
        notifier = Notifier(str(sock.path))
        notifier.reloading()
        message = sock.receive(5)
    assert message is not None and message["RELOADING"] == "1" and int(message["MONOTONIC_USEC"]) > 0


def test_abstract_namespace_socket() -> None:
    name = f"dmarcflow-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(5)
        Notifier("@" + name).ready("up")
        assert server.recv(100) == b"READY=1\nSTATUS=up"


def test_the_environment_is_read_then_removed_so_child_processes_cannot_notify() -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid()),
           "PATH": "/usr/bin"}
    notifier = Notifier.from_environment(env)
    assert (notifier.enabled, notifier.watchdog_interval) == (True, 10.0)
    assert env == {"PATH": "/usr/bin"}


def test_a_watchdog_meant_for_another_process_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}
    assert Notifier.from_environment(env).watchdog_interval is None


def test_without_systemd_nothing_is_sent_and_a_dead_socket_is_logged_once(tmp_path, caplog) -> None:
    assert Notifier.from_environment({}).enabled is False
    Notifier().ready("nobody listens")  # no socket: a no-op
    gone = Notifier(str(tmp_path / "gone"))
    with caplog.at_level(logging.WARNING, logger="dmarcflow.systemd_notify"):
        gone.ready("socket missing")
        gone.watchdog()  # never raised: notifications must not stop the daemon
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot notify systemd at {tmp_path / 'gone'}: No such file or directory"]
    assert Notifier("not-a-path").enabled is False
