"""The per-mailbox pass lock: one process at a time, released when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dmarcflow.config import MailboxSettings
from dmarcflow.errors import StoreError
from dmarcflow.pass_lock import lock_path, pass_lock


def _holder(lock: Path) -> subprocess.Popen[str]:
    """A separate process that takes the lock, says so, and sleeps until killed."""
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from dmarcflow.pass_lock import pass_lock
        with pass_lock(Path({str(lock)!r}), wait=True) as ours:
            print("held" if ours else "refused", flush=True)
            time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_process_is_kept_out_until_the_holder_dies(tmp_path: Path) -> None:
    lock = tmp_path / "store.sqlite.mailbox-x.lock"
    holder = _holder(lock)
    try:
        with pass_lock(lock, wait=False) as ours:
            assert ours is False
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with pass_lock(lock, wait=False) as ours:
        assert ours is True


def test_one_lock_per_server_user_and_folder(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    box = MailboxSettings(name="a", host="Mail.Example", user="u", folder="INBOX")
    assert lock_path(store, box) == lock_path(store, MailboxSettings(name="b", host="mail.example", user="u", folder="INBOX"))
    assert lock_path(store, box) != lock_path(store, MailboxSettings(name="a", host="mail.example", user="u", folder="Reports"))
    assert lock_path(store, box).parent == tmp_path
    assert lock_path(store, box).name.startswith("s.sqlite.mailbox-")


def test_a_folder_that_cannot_hold_the_lock_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot create the mailbox lock .*: the store's folder must be writable"):
        with pass_lock(tmp_path / "missing" / "x.lock", wait=True):
            pass
