"""The block-reading mbox splitter: exact messages, sizes and caps whatever the block size, as the line reader had them."""

from __future__ import annotations

import io

import pytest

from dmarcflow import mbox

ENVELOPE = b"From MAILER-DAEMON Thu Mar  5 10:00:00 2026\n"
CASES = [
    (b"", 99, []),
    (b"\xef\xbb\xbf \r\n\n", 99, []),
    (ENVELOPE + b"X: 1\n\nbody\n\n" + ENVELOPE + b"Y: 2\n\nlast\n", 99, [(1, b"X: 1\n\nbody\n", 11), (2, b"Y: 2\n\nlast\n", 11)]),
    (b"\xef\xbb\xbf\n  " + ENVELOPE + b"a\n", 99, [(1, b"a\n", 2)]),
    (b"  no envelope\nFrom x\nnext\n", 99, [(1, b"no envelope\n", 12), (2, b"next\n", 5)]),
    (ENVELOPE + b">From a\n>>From b\n>Fromage\n From c\n", 99, [(1, b"From a\n>From b\n>Fromage\n From c\n", 32)]),
    (ENVELOPE + b"a\r\n\r\n" + ENVELOPE + b"\r\n", 99, [(1, b"a\r\n", 3), (2, b"", 0)]),
    (ENVELOPE + b"a\n\n\n" + ENVELOPE + ENVELOPE, 99, [(1, b"a\n\n", 3), (2, b"", 0), (3, b"", 0)]),
    (ENVELOPE + b"12345\n\n" + ENVELOPE + b"123456\n\n", 6, [(1, b"12345\n", 6), (2, None, 7)]),
    (ENVELOPE + b">From 12\n", 8, [(1, b"From 12\n", 8)]),
    (ENVELOPE + b"x" * 50 + b"\n", 10, [(1, None, 51)]),
    (ENVELOPE + b"no final newline", 99, [(1, b"no final newline", 16)]),
    (b"From", 99, [(1, b"From", 4)]),
    (b"From \n", 99, [(1, b"", 0)]),
]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize(("data", "cap", "want"), CASES)
def test_messages_are_the_same_whatever_the_block_size(monkeypatch: pytest.MonkeyPatch, block: int, data: bytes,
                                                       cap: int, want: list[tuple[int, bytes | None, int]]) -> None:
    monkeypatch.setattr(mbox, "_BLOCK", block)
    got = [(m.index, m.data, m.size) for m in mbox.split_mbox(io.BytesIO(data), cap)]
    assert got == want


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_a_very_long_line_is_passed_on_in_pieces_and_is_never_a_separator(monkeypatch: pytest.MonkeyPatch,
                                                                           block: int) -> None:
    monkeypatch.setattr(mbox, "_BLOCK", block)
    monkeypatch.setattr(mbox, "_LONG_LINE", 16)
    long_line = b"y" * 40 + b"From not a separator " + b">From " + b"z" * 40 + b"\n"
    data = ENVELOPE + long_line + b">From q\n\n" + ENVELOPE + b"end\n"
    got = [(m.index, m.data, m.size) for m in mbox.split_mbox(io.BytesIO(data), 1000)]
    assert got == [(1, long_line + b"From q\n", len(long_line) + 7), (2, b"end\n", 4)]
    capped = [(m.index, m.data, m.size) for m in mbox.split_mbox(io.BytesIO(ENVELOPE + b"w" * 5000 + b"\n"), 100)]
    assert capped == [(1, None, 5001)]
