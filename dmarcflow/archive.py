"""Zip archives: their members, checked before anything is decompressed.

The member count is read from the end-of-central-directory record before zipfile parses the
directory, so an archive of 100,000 entries is refused without building 100,000 entries.
Members whose data overlap (the trick behind zip quines and non-recursive zip bombs) make
the archive unreadable: real archivers never write them.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import IO

from dmarcflow.budget import DECOMPRESSION_ERRORS
from dmarcflow.errors import ExtractError

_EOCD = b"PK\x05\x06"
_EOCD_MAX = 22 + 0xFFFF  # the record and the longest comment
_LOCAL_HEADER = 30
_ENTRY_BYTES_MAX = 4096  # a directory entry with a long name and extra fields is a few hundred bytes
SUPPORTED = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_ZIP_ERRORS = DECOMPRESSION_ERRORS + (ValueError, IndexError, KeyError, OverflowError)


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    label: str  # the file name, or memberN for a member without one
    unnamed: bool


def _end_record(fileobj: IO[bytes]) -> tuple[int, int] | None:
    """(entries, directory size) as the archive declares them at its end; None when no record is found."""
    size = fileobj.seek(0, 2)
    start = max(0, size - _EOCD_MAX)
    fileobj.seek(start)
    tail = fileobj.read(size - start)
    fileobj.seek(0)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        return None
    entries, directory = struct.unpack_from("<HI", tail, at + 10)
    return int(entries), int(directory)


def open_zip(fileobj: IO[bytes], max_entries: int) -> zipfile.ZipFile:
    declared = _end_record(fileobj)
    if declared is not None:
        entries, directory = declared
        if entries != 0xFFFF and entries > max_entries:
            raise ExtractError("too_large", f"the zip archive has {entries} members, more than {max_entries}")
        if directory != 0xFFFFFFFF and directory > max_entries * _ENTRY_BYTES_MAX:
            raise ExtractError("too_large", f"the zip archive's directory has {directory} bytes, "
                                            f"more than {max_entries} members need")
    try:
        return zipfile.ZipFile(fileobj)
    except _ZIP_ERRORS as exc:
        raise ExtractError("unreadable", f"broken zip archive: {type(exc).__name__}: {exc}") from None


def members(zf: zipfile.ZipFile) -> Iterator[Member]:
    """The files of the archive (folders left out), in directory order."""
    infos = zf.infolist()
    _check_overlap(infos)
    for index, info in enumerate(infos):
        if info.filename.endswith("/"):
            continue
        yield Member(info, info.filename or f"member{index}", not info.filename)


def _check_overlap(infos: list[zipfile.ZipInfo]) -> None:
    spans = sorted((i.header_offset, i.compress_size) for i in infos)
    for (start, length), (next_start, _) in pairwise(spans):
        if next_start < start + _LOCAL_HEADER + length:
            raise ExtractError("unreadable", "the zip archive's members overlap each other (a zip bomb)")


def refusal(member: Member, limit: int) -> ExtractError | None:
    """Why a member is not decompressed at all, if it is not."""
    info = member.info
    if info.flag_bits & 0x1:
        return ExtractError("encrypted_archive", "the zip member is password-protected")
    if info.compress_type not in SUPPORTED:
        return ExtractError("unsupported_compression", f"zip compression method {info.compress_type} is not supported")
    if info.file_size > limit:
        return ExtractError("too_large", f"the zip member declares {info.file_size} bytes, more than the limit {limit}")
    return None


def open_member(zf: zipfile.ZipFile, member: Member, what: str) -> IO[bytes]:
    try:
        return zf.open(member.info)
    except _ZIP_ERRORS as exc:
        raise ExtractError("unreadable", f"{what}: broken zip member: {type(exc).__name__}: {exc}") from None
