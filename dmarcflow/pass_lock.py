"""One pass at a time per mailbox, across the processes that share a store.

Two daemons (or a daemon and a `fetch`) reading the same folder would both file the messages they
fetched. Servers such as Dovecot carry out MOVE as a copy followed by an expunge, so two sessions moving
the same message can both copy it, and the archive ends up with two copies (the store still counts the
report once). An advisory lock beside the store, held for the length of one pass, keeps the second
process out until the first has filed everything. The kernel drops the lock when its process dies, so a
crash never leaves a mailbox locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dmarcflow.config import MailboxSettings
from dmarcflow.errors import StoreError


def lock_path(store_path: Path, box: MailboxSettings) -> Path:
    """One lock file per (server, user, folder): a mailbox named twice in the config still has one lock."""
    key = f"{box.host.lower()}:{box.effective_port()}:{box.user}:{box.folder}"
    return store_path.with_name(f"{store_path.name}.mailbox-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock")


@contextmanager
def pass_lock(path: Path, *, wait: bool) -> Iterator[bool]:
    """Yields True when this process holds the mailbox for one pass; False (only with wait=False) when another does."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create the mailbox lock {path}: {exc.strerror}: the store's folder must be writable") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
