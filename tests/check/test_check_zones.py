"""`dmarcflow check` against zones with planted defects: exactly the planted findings, nothing else."""

from __future__ import annotations

import json

from tests.support.check_zones import EXPECTED


def test_every_zone_gives_exactly_its_planted_findings(check_cli):
    result = check_cli(*EXPECTED, "--format", "json")
    out = json.loads(result.stdout)
    got = {d["domain"]: [(f["code"], f["name"]) for f in d["findings"]] for d in out["domains"]}
    assert got == EXPECTED
    assert result.exit_code == 1  # some findings are errors
    for d in out["domains"]:
        for f in d["findings"]:
            assert set(f) >= {"code", "severity", "message", "fix", "name"}
            assert f["message"] and f["fix"]


def test_every_finding_code_is_planted_somewhere():
    from dmarcflow.check import CODES

    planted = {code for findings in EXPECTED.values() for code, _ in findings}
    assert planted == set(CODES)
