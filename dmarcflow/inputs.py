"""Where inputs come from: the files under the given paths, and one input's bytes as a source.

A file is checked before it is opened (a FIFO, socket or device would block a read or never end)
and checked again on the open descriptor, so a file swapped between the two checks is caught too.
Every reader of one file reads the same descriptor at its own position, so an input that is read
twice (a report compared, then stored) is the same file both times.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterable, Iterator
from typing import IO, Protocol, Self

from dmarcflow.errors import ExtractError
from dmarcflow.store.rejected import RawInput


class Source(Protocol):
    """The bytes of one input, which can be opened any number of times."""

    @property
    def size(self) -> int: ...

    def open(self) -> IO[bytes]: ...

    def read_all(self, cap: int) -> bytes | None:
        """The whole input if it has at most ``cap`` bytes, else None."""

    def raw(self) -> RawInput:
        """The input's bytes as a rejection keeps them (whole, or only their size and sha256)."""


class BytesSource:
    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def open(self) -> IO[bytes]:
        return io.BytesIO(self._data)

    def read_all(self, cap: int) -> bytes | None:
        return self._data if len(self._data) <= cap else None

    def raw(self) -> RawInput:
        return RawInput.of_bytes(self._data)


class FileSource:
    """One regular file, opened once, without following it into a FIFO or device."""

    def __init__(self, path: str) -> None:
        _check_type(path, _stat(path))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
        try:
            st = os.fstat(fd)
            _check_type(path, st)  # replaced by something else since the first look
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._size = st.st_size
        self._path = path

    @property
    def size(self) -> int:
        return self._size

    def open(self) -> IO[bytes]:
        return io.BufferedReader(_PositionalReader(self._fd, self._size), buffer_size=1 << 16)

    def read_all(self, cap: int) -> bytes | None:
        if self._size > cap:
            return None
        with self.open() as stream:
            return stream.read(cap + 1)[:cap]

    def raw(self) -> RawInput:
        return RawInput.of_file(self._path)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_file(path: str) -> FileSource:
    """The file as a source, or ExtractError("unreadable") saying what it is instead."""
    try:
        return FileSource(path)
    except ExtractError:
        raise
    except OSError as exc:
        raise ExtractError("unreadable", f"cannot open the file: {exc.strerror or exc}") from None


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ExtractError("unreadable", "a dangling symbolic link (its target does not exist)") from None
        raise ExtractError("unreadable", "the file does not exist (any more)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ExtractError("unreadable", "a symbolic link loop") from None
        raise ExtractError("unreadable", f"cannot read the file: {exc.strerror or exc}") from None


_KINDS = (
    (stat.S_ISDIR, "a folder that could not be listed"),
    (stat.S_ISFIFO, "a FIFO (named pipe), not a regular file: not read"),
    (stat.S_ISSOCK, "a socket, not a regular file: not read"),
    (stat.S_ISCHR, "a character device, not a regular file: not read"),
    (stat.S_ISBLK, "a block device, not a regular file: not read"),
)


def _check_type(path: str, st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    what = next((text for test, text in _KINDS if test(st.st_mode)), "not a regular file: not read")
    raise ExtractError("unreadable", what)


class _PositionalReader(io.RawIOBase):
    """Reads a shared descriptor at its own offset (pread), so readers never disturb each other."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = os.pread(self._fd, len(buffer), self._pos)
        self._pos += len(data)
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def list_inputs(paths: Iterable[str]) -> list[str]:
    """Files under the given paths, recursively, in a stable order.

    Hidden files are read like any other. A folder reached twice (a symbolic link back up the
    tree, or a second link to it) is read once. Anything that is not a folder is an input, so
    special files and broken links get an outcome (unreadable) instead of being left out.
    """
    files: list[str] = []
    seen: set[tuple[int, int]] = set()
    for path in paths:
        if os.path.isdir(path):
            files.extend(_walk(path, seen))
        else:
            files.append(path)
    return files


def _walk(top: str, seen: set[tuple[int, int]]) -> Iterator[str]:
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            yield folder  # an unreadable folder is an input: it is reported, not skipped
            continue
        subfolders = []
        for entry in entries:
            if _is_folder(entry):
                subfolders.append(entry.path)
            else:
                yield entry.path
        stack.extend(reversed(subfolders))


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
