"""The fast Public Suffix List reader gives the library's own rules and answers."""

from __future__ import annotations

import pytest
from publicsuffixlist import PublicSuffixList

from dmarcflow.suffixes import SuffixList


@pytest.fixture(scope="module")
def pair() -> tuple[PublicSuffixList, SuffixList]:
    return PublicSuffixList(), SuffixList()


def _names(library: PublicSuffixList) -> list[str]:
    """Names around every rule: the rule itself, one and two labels under it, upper case, a trailing dot."""
    names = ["com", "example.com", "a.b.example.co.uk", "EXAMPLE.COM.", "a..b.com", "", ".", "localhost",
             "xn--p1ai", "example.xn--p1ai", "a.b.XN--P1AI", "city.kobe.jp", "a.city.kobe.jp", "x.kobe.jp"]
    for rule in sorted(library._publicsuffix):  # noqa: SLF001  (the library keeps its rules there)
        bare = rule.lstrip("!").replace("*", "w")
        names += [bare, f"a.{bare}", f"b.a.{bare}", f"A.{bare.upper()}."]
    return names


def test_rules_equal_the_library_once_punycode_names_arrive(pair: tuple[PublicSuffixList, SuffixList]) -> None:
    library, ours = PublicSuffixList(), SuffixList()
    twins = library._publicsuffix - ours._publicsuffix  # noqa: SLF001
    assert len(twins) == len(ours._unencoded) > 400  # noqa: SLF001
    assert all("xn--" in twin for twin in twins)
    assert ours._maxlabel == library._maxlabel  # noqa: SLF001
    assert ours.registrable("example.com") == "example.com"
    assert ours._unencoded  # noqa: SLF001  (no punycode name yet: the twins are not built)
    assert ours.registrable("www.example.XN--P1AI") == "example.xn--p1ai"
    assert ours._publicsuffix == library._publicsuffix  # noqa: SLF001


def test_every_answer_equals_the_library(pair: tuple[PublicSuffixList, SuffixList]) -> None:
    library, ours = pair
    names = _names(library)
    assert len(names) > 40_000
    differing = [name for name in names if ours.registrable(name) != library.privatesuffix(name)]
    assert differing == []
