"""The syncer's memo of index names gives exactly what index_name gives, and stays within its bound."""

from __future__ import annotations

from dmarcflow.index.mapping import IndexNames, index_name


def test_the_memo_names_every_period_as_index_name_does() -> None:
    names = IndexNames(size=2)
    times = [1772323200, 1772323200, 1775001600, 1735689599, 1772323200]
    for period in ("month", "day", "year"):
        assert [names("dmarc", period, t) for t in times] == [index_name("dmarc", period, t) for t in times]
    assert names("dmarc", "month", 1772323200) == "dmarc-2026.03"
    assert names("dmarc", "month", 1735689599) == "dmarc-2024.12"
    assert len(names._memo) == 2  # bounded: later names are computed, not kept
