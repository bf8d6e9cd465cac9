"""Mutated samples (seeded, a fixed number each): the parsers return a report or raise ParseError, nothing else."""

from __future__ import annotations

import json
import random

import pytest

from dmarcflow.errors import ParseError
from dmarcflow.kinds.failure import parse_failure_mail
from dmarcflow.kinds.tls import parse_tls
from dmarcflow.models import FailureReport, TlsReport
from tests.kinds.conftest import FAILURE_FILES
from tests.support.kind_samples import FAILURE_DIR, microsoft_report, no_policy_report, tls_json

CASES = 1000
HOSTILE_VALUES = [None, True, -1, 2**63, 2**64, 1.5, 1e308, "", " ", "\x00", "\udcff" * 0 + "\u202e", [], {}, [[[]]],
                  "9" * 30, "999.1.1.1", "2026-13-01T00:00:00Z", "<script>", {"policy-type": "sts"}]


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        pos = rng.randrange(len(out)) if out else 0
        if op == 0 and out:
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            del out[pos:pos + rng.randint(1, 64)]
        elif op == 2:
            out[pos:pos] = out[pos:pos + rng.randint(1, 64)] * rng.randint(1, 4)
        else:
            out = out[: rng.randrange(len(out) + 1)]
    return bytes(out)


def _mutate_json(value: object, rng: random.Random) -> object:
    """Replace, drop or duplicate one node somewhere in the structure."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(sorted(value))
        copy = dict(value)
        choice = rng.randrange(3)
        if choice == 0:
            copy[key] = rng.choice(HOSTILE_VALUES)
        elif choice == 1:
            del copy[key]
        else:
            copy[key] = _mutate_json(copy[key], rng)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        copy = list(value)
        i = rng.randrange(len(copy))
        copy[i] = _mutate_json(copy[i], rng) if rng.random() < 0.7 else rng.choice(HOSTILE_VALUES)
        if rng.random() < 0.2:
            copy.append(copy[i])
        return copy
    return rng.choice(HOSTILE_VALUES)


@pytest.mark.parametrize("seed", range(4))
def test_tls_structure_mutations(seed):
    rng = random.Random(seed)
    outcomes = {"report": 0, "rejected": 0}
    for _ in range(CASES):
        base = rng.choice([microsoft_report(), no_policy_report()])
        data = json.dumps(_mutate_json(base, rng)).encode()
        try:
            assert isinstance(parse_tls(data, report_domain=rng.choice([None, "example.net", "not a domain"])), TlsReport)
            outcomes["report"] += 1
        except ParseError:
            outcomes["rejected"] += 1
    assert outcomes["report"] + outcomes["rejected"] == CASES and outcomes["rejected"] > 0


@pytest.mark.parametrize("seed", range(4))
def test_tls_byte_mutations(seed):
    rng = random.Random(100 + seed)
    base = tls_json(microsoft_report())
    for _ in range(CASES):
        try:
            parse_tls(_mutate_bytes(base, rng))
        except ParseError:
            pass


@pytest.mark.parametrize("name", FAILURE_FILES)
def test_failure_byte_mutations(name):
    rng = random.Random(name)
    base = (FAILURE_DIR / name).read_bytes()
    parsed = 0
    for _ in range(CASES // 2):
        try:
            assert isinstance(parse_failure_mail(_mutate_bytes(base, rng)), FailureReport)
            parsed += 1
        except ParseError:
            pass
    assert parsed > 0
