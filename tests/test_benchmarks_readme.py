"""The README's benchmark table is the one the README tool makes from the kept run (never edited by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import readme

REPO = Path(__file__).resolve().parent.parent
LATEST = REPO / "benchmarks" / "results" / "latest.json"


def test_readme_section_is_the_latest_run_rendered_by_the_tool() -> None:
    results = json.loads(LATEST.read_text(encoding="utf-8"))
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert results["quick"] is False
    assert text.count(readme.START) == 1 and text.count(readme.END) == 1
    assert readme.section(results) in text


def test_every_issue_16_row_names_its_peer_and_target() -> None:
    results = json.loads(LATEST.read_text(encoding="utf-8"))
    issue_16 = [f for f in results["figures"] if f["target_issue"] == "16"]
    assert len(issue_16) == 17
    for figure in issue_16:
        assert figure["peer"] not in ("", "-"), figure["key"]
        assert figure["target"].endswith("(issue 16)"), figure["key"]
        assert figure["verdict"] in ("met", "MISSED", "not measured"), figure["key"]
