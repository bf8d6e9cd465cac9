"""mypy --strict and ruff over the package, as scripts/test.sh runs them, so that a plain pytest run fails on a
regression too; and their lists of exceptions, which may only shrink."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# The modules allowed to skip strict typing, and the files allowed to skip some lint rules. A module may leave
# these lists (delete its line here and in pyproject.toml); none may join them.
MYPY_EXCEPTIONS_AT_MOST: set[str] = set()
RUFF_EXCEPTIONS_AT_MOST = {
    "dmarcflow/extract.py": {"SIM115"},
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)


def _tool_available(name: str) -> None:
    if _run(name, "--version").returncode != 0:
        pytest.fail(f"{name} is not installed: it is in the test extra (pip install -e '.[test]')")


def test_mypy_strict_passes_on_the_package() -> None:
    _tool_available("mypy")
    result = _run("mypy")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("Success: no issues found in "), result.stdout


def test_ruff_passes_on_the_package() -> None:
    _tool_available("ruff")
    result = _run("ruff", "check", "dmarcflow")
    assert (result.returncode, result.stdout.strip()) == (0, "All checks passed!"), result.stdout


def test_mypy_is_strict_over_the_whole_package() -> None:
    mypy = PYPROJECT["tool"]["mypy"]
    assert (mypy["strict"], mypy["files"]) == (True, ["dmarcflow"])


def test_the_mypy_exception_list_only_shrinks() -> None:
    skipped = {module for override in PYPROJECT["tool"]["mypy"]["overrides"] if override.get("ignore_errors")
               for module in override["module"]}
    assert skipped <= MYPY_EXCEPTIONS_AT_MOST, f"new modules without strict typing: {sorted(skipped - MYPY_EXCEPTIONS_AT_MOST)}"


def test_the_ruff_exception_list_only_shrinks() -> None:
    lint = PYPROJECT["tool"]["ruff"]["lint"]
    assert lint["select"] == ["ALL"]
    for path, rules in lint.get("per-file-ignores", {}).items():
        assert set(rules) <= RUFF_EXCEPTIONS_AT_MOST.get(path, set()), f"{path}: new lint exceptions"
