"""Real small or read-only filesystems for store tests: a tmpfs mounted by the test (root only).

Nothing is simulated: SQLite meets a real ENOSPC or EROFS from the kernel. Without the right to mount
(not root, or a container that forbids it) the tests that need one are skipped, saying why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "1m") mounted at ``where`` for the duration of the block."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (the disk-full and read-only cases are real mounts)")
    where.mkdir(parents=True, exist_ok=True)
    mounted = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        _run("umount", "-l", str(where))


def remount(where: Path, options: str) -> None:
    """Change a mounted tmpfs, e.g. "ro" or "size=64m"."""
    done = _run("mount", "-o", f"remount,{options}", str(where))
    assert done.returncode == 0, done.stderr
