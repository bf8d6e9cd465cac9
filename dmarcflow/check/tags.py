"""Tag-value lists (``v=DMARC1; p=reject``), as DMARC, DKIM keys, MTA-STS, TLS-RPT and BIMI records use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dmarcflow.check.codes import finding
from dmarcflow.check.dns import Answer
from dmarcflow.models import Finding

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TagList:
    tags: tuple[tuple[str, str], ...]  # in record order, names lower case
    problems: tuple[str, ...]  # what does not parse, in plain words

    def get(self, name: str) -> str | None:
        for key, value in self.tags:
            if key == name:
                return value
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.tags)


def parse_tags(text: str) -> TagList:
    """Split ``name=value`` pairs on ``;`` (a trailing ``;`` and spaces around are fine)."""
    tags: list[tuple[str, str]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for part in text.split(";"):
        spec = part.strip()
        if not spec:
            continue
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            problems.append(f"{spec[:60]!r} is not a name=value tag")
            continue
        key = name.lower()
        if key in seen:
            problems.append(f"the tag {key} appears more than once")
            continue
        seen.add(key)
        tags.append((key, value.strip()))
    return TagList(tuple(tags), tuple(problems))


def unreachable(answer: Answer, what: str) -> Finding:
    return finding(
        "dns_unreachable",
        f"the {answer.rdtype} lookup of {answer.name} failed ({answer.error}): {what} could not be checked",
        "check that the domain's name servers answer (all of them, over UDP and TCP), then run the check again",
        answer.name,
    )


def versioned(answer: Answer, version: str) -> list[str]:
    """The TXT records at the name that start with ``v=<version>`` (tags allow spaces around ``=``)."""
    return [r for r in answer.records if _version(r) == version]


def _version(record: str) -> str | None:
    first = record.split(";", 1)[0].strip()
    name, sep, value = first.partition("=")
    return value.strip() if sep and name.strip().lower() == "v" else None
