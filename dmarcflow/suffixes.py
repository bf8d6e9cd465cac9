"""The Public Suffix List, read fast enough for a short command.

``publicsuffixlist`` answers the lookups, but its reader sends every one of the list's ~10,000 rules
through Python's ``idna`` codec to add a punycode twin: about 50 ms of a 100-record ingest. An ASCII
rule passes through that codec unchanged, so only the ~460 rules that are not ASCII have a twin, and
those twins can only match a name with an ``xn--`` label: they are added on the first such name.
A test compares the rule set with the library's own whole, so a release that reads the list
differently fails there.
"""

from __future__ import annotations

from itertools import repeat
from typing import IO

from publicsuffixlist import PublicSuffixList

_ACE = "xn--"  # the prefix of a punycode label (RFC 3490), the only way a twin can match


class SuffixList(PublicSuffixList):
    """``PublicSuffixList`` with the same rules, read in one pass; ask it through ``registrable``."""

    _unencoded: tuple[str, ...] = ()

    def registrable(self, name: str) -> str | None:
        """The registrable domain of ``name`` (None for a public suffix), as ``privatesuffix`` answers it."""
        if self._unencoded and _ACE in name.lower():
            self._add_punycode_twins()
        return self.privatesuffix(name)

    def _add_punycode_twins(self) -> None:
        twins = set()
        for rule in self._unencoded:
            encoded = rule.lstrip("!").encode("idna").decode("ascii")
            twins.add("!" + encoded if rule[0] == "!" else encoded)
        self._publicsuffix = self._publicsuffix | twins  # a new set at once: readers in other threads stay whole
        self._unencoded = ()

    def _parse(self, source: IO[bytes] | object, accept_encoded_idn: bool, only_icann: bool = False) -> None:
        if only_icann or not hasattr(source, "read"):  # the library's own reader for what we never use
            super()._parse(source, accept_encoded_idn, only_icann=only_icann)  # type: ignore[no-untyped-call]
            return
        text = source.read()
        text = text.decode("utf8", "surrogateescape") if isinstance(text, bytes) else text
        # The library's rule of each line (its first word, lower case, right-stripped; no blank line, no
        # comment), with each step done once over the whole text or set where that gives the same words.
        words = {line.partition(" ")[0].rstrip() for line in text.lower().split("\n")}  # lines end at b"\n" only
        rules = {word for word in words if word and not word.startswith("//")}
        self._publicsuffix = frozenset(rules)
        self._maxlabel = max(map(str.count, rules, repeat(".")), default=-1) + 1
        self._unencoded = tuple(rule for rule in rules if not rule.isascii()) if accept_encoded_idn else ()
